# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A fleet: many environments of one workspace, planned as one state and applied in parallel.

Each environment is one agent (by name) and its numbers. The fleet is checked
as a whole before anything is read (one number in two environments, two
environments naming one agent), read once (one walk each of agents, routes and
purchased numbers), and planned in stages, so that the outcome does not depend
on the order in which environments run:

- stage 0: agents created or updated;
- stage 1: every environment's maps (a number moved between environments is
  simply mapped to its new agent: a map replaces the route);
- stage 2: unmaps, only of numbers that no environment of the fleet lists, each
  read fresh just before, and skipped when the number now routes elsewhere;
- stage 3: extra agents with a fleet's agent name deleted (see below).

The server does not keep agent names unique, so two runs started together can
both create an agent. The convergence rule: of several agents with one name the
fleet manages, the one with the lowest id is kept; the routes of the others
move to it (or are unmapped, for an exclusive environment's unlisted numbers),
and the others are deleted. Every run applies it to the names it finds
duplicated when it reads, and again, after its writes, to the names it
created; so whichever run finishes last leaves one agent per name. A round
whose writes fail because the workspace changed underneath it (an agent
deleted by the other run's merge, a delete refused as numbers were mapped
meanwhile) is followed by another: read again, plan again, apply.
"""

from __future__ import annotations

import datetime
import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import (
    DEFAULT_LANGUAGE,
    NEW_AGENT,
    agents_named,
    complete,
    language_problem,
    normalize_agent,
    plan_agent_present,
)
from ansible_collections.piopiy.voice.plugins.module_utils.client_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Operation, Plan, SkippedWrite
from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import SUCCESSOR_MARKER, rotation_problem_in_progress
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import (
    ENVIRONMENT_GUARDS,
    RouteBook,
    guard_problems,
    parse_phone_numbers,
    plan_map,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_token_file import (
    TOKEN_FORMAT,
    env_names_problems,
    secret_file_problem,
    write_credentials,
)

AGENT_STAGE, MAP_STAGE, UNMAP_STAGE, MERGE_STAGE = 0, 1, 2, 3
AGENT_NAME_SUFFIX = '-support-agent'  # as the support_agent role names an environment's agent
SHOWN_NUMBERS = 10
PRESENT, ABSENT = 'present', 'absent'


class TokenFile:
    """Where the token of the agent a fleet creates for an environment is kept: a path, its format, an env file's names."""

    def __init__(self, path, file_format=TOKEN_FORMAT, env_names=None):
        self.path = path
        self.file_format = file_format
        self.env_names = env_names


class Environment:
    """One environment of the fleet as asked: its agent's name and language, its numbers, whether they are all of them,
    whether it is to be present or removed, and where the token of its new agent goes."""

    def __init__(self, environment, name, language, numbers, exclusive, max_route_changes=None, allow_protected_changes=None,
                 state=PRESENT, token_file=None):
        self.environment = environment
        self.name = name
        self.language = language
        self.numbers = numbers
        self.exclusive = exclusive
        self.max_route_changes = max_route_changes  # this environment's own cap; None: none
        self.allow_protected_changes = allow_protected_changes  # None: as the fleet allows
        self.state = state
        self.token_file = token_file  # a TokenFile, or None


def parse_token_file(label, raw, state):
    """(the environment's TokenFile or None, problems): the env file's names, and a path that cannot be written, before any write."""
    names = raw.get('token_env_names')
    problems = ['environment %s: %s' % (label, problem) for problem in env_names_problems(names)] if names is not None else []
    path = raw.get('token_file')
    if not path:
        return None, problems
    problem = secret_file_problem(path) if state == PRESENT else None
    if problem:
        problems.append('environment %s: token_file %s cannot be written (%s): fix the path before creating an agent' % (label, path, problem))
    return TokenFile(path, raw.get('token_file_format') or TOKEN_FORMAT, names), problems


def parse_fleet(raw_environments):
    """(environments, problems): every problem of the fleet's input, each naming its environments and values."""
    environments, problems, seen = [], [], set()
    for index, raw in enumerate(raw_environments):
        label = (raw.get('environment') or '').strip()
        if not label:
            problems.append('environments[%d] has no environment name: give each item an environment, such as prod' % index)
            continue
        if label in seen:
            problems.append('environment %r is listed more than once: list each environment once' % label)
            continue
        seen.add(label)
        numbers, number_problems = parse_phone_numbers('environment %s: phone_numbers' % label, raw.get('phone_numbers') or [])
        problems.extend(number_problems)
        name = raw.get('name') if raw.get('name') is not None else label + AGENT_NAME_SUFFIX
        if not name.strip():
            problems.append('environment %s: name must not be empty: give the agent a name such as %s%s' % (label, label, AGENT_NAME_SUFFIX))
        problem = language_problem(raw.get('language'))
        if problem:
            problems.append('environment %s: %s' % (label, problem))
        exclusive = True if raw.get('exclusive') is None else raw['exclusive']
        cap = raw.get('max_route_changes')
        if cap is not None and cap < 0:
            problems.append('environment %s: max_route_changes must be 0 or more, got %d' % (label, cap))
        state = raw.get('state') or PRESENT
        if state == ABSENT and numbers:
            problems.append('environment %s: state absent removes the environment and its numbers, yet it lists %d phone number(s): '
                            'leave phone_numbers out, or set state present' % (label, len(numbers)))
        token_file, token_problems = parse_token_file(label, raw, state)
        problems.extend(token_problems)
        environments.append(Environment(label, name, raw.get('language'), numbers, exclusive, cap, raw.get('allow_protected_changes'),
                                        state, token_file))
    return environments, problems + conflicts(environments)


def conflicts(environments):
    """Two environments that claim one number, or one agent: each would undo the other, whichever ran last winning."""
    problems = []
    for number, owners in sorted(_claims(environments, lambda environment: environment.numbers).items()):
        if len(owners) > 1:
            problems.append('number %s is listed by %d environments (%s): a number routes to one agent; list it in one environment'
                            % (number, len(owners), ', '.join(owners)))
    for name, owners in sorted(_claims(environments, lambda environment: [environment.name]).items()):
        if len(owners) > 1:
            problems.append('agent name %r is used by %d environments (%s): they would share one agent and fight over its numbers; '
                            'give each environment its own agent name' % (name, len(owners), ', '.join(owners)))
    for path, owners in sorted(_claims(environments, _kept_token_file).items()):
        if len(owners) > 1:
            problems.append('token_file %s is used by %d environments (%s): each would overwrite the credentials of the other\'s '
                            'agent; give each environment its own file' % (path, len(owners), ', '.join(owners)))
    return problems


def _kept_token_file(environment):
    """[the path of the file that keeps the credentials of the environment's new agent], or []."""
    return [environment.token_file.path] if environment.token_file and environment.state == PRESENT else []


def _claims(environments, claimed):
    owners = {}
    for environment in environments:
        for value in claimed(environment):
            owners.setdefault(value, []).append(environment.environment)
    return owners


def guard_fleet(fleet, environments, max_changes=None, protected=(), allow_protected=False):
    """The guard rails over the whole plan (the task's cap) and over each environment's part of it (its cap, its override).

    A protected number may change only in an environment that lists it and allows it, itself or through the fleet.
    """
    problems = guard_problems(fleet, set(number for environment in environments for number in environment.numbers), max_changes)
    parts = fleet.parts()
    for environment in environments:
        part = Plan(parts.get(environment.environment, []))
        allow = allow_protected if environment.allow_protected_changes is None else environment.allow_protected_changes
        problems.extend('environment %s: %s' % (environment.environment, problem)
                        for problem in guard_problems(part, set(environment.numbers), environment.max_route_changes, protected, allow,
                                                      ENVIRONMENT_GUARDS))
    return problems


class FleetState:
    """What the fleet read: every agent (raw list items), the route book with purchased numbers, and completed agents by id."""

    def __init__(self, agents, book, completed=None):
        self.agents = agents
        self.book = book
        self.completed = dict(completed or {})
        self._about = None  # agent name -> the agents named so, or NAME--rotating-OLD; made on first use

    def summary(self):
        """What was read of the workspace, for the task's result: how many agents, and the lowest agent id, which tells the
        workspace apart: the API never says which workspace a key reaches, but agent ids are its own, so two API keys
        whose reads find one lowest id reach one workspace."""
        ids = [str(agent['id']) for agent in self.agents if agent.get('id')]
        return {'agents': len(ids), 'lowest_agent_id': min(ids) if ids else None}

    def agents_named(self, name):
        """The agents with this name, lowest id first: the first is the one the fleet keeps."""
        return sorted_by_id(self.agents_about(name), name)

    def agents_about(self, name):
        """The agents the plan of agent `name` reads: those with its name and its rotation successors (NAME--rotating-OLD).

        From an index made once, so that planning a thousand environments is one pass over the agents, not one each.
        """
        if self._about is None:
            self._about = {}
            for agent in self.agents:
                for about in names_about(str(agent.get('name') or '')):
                    self._about.setdefault(about, []).append(agent)
        return self._about.get(name, [])


def names_about(agent_name):
    """The names an agent is about: its own, and for a successor NAME--rotating-OLD, NAME (at each marker, as a name may hold one)."""
    names = [agent_name]
    start = agent_name.find(SUCCESSOR_MARKER)
    while start >= 0:
        names.append(agent_name[:start])
        start = agent_name.find(SUCCESSOR_MARKER, start + 1)
    return names


def read_fleet(client, environments, workers, assumed=()):
    """One walk each of agents and routes side by side, and of purchased numbers when needed; then the languages asked.

    The purchased numbers are walked as RouteBook.learn_purchased says, each environment's numbers to route to the agent
    the plan keeps (the lowest id of its name), the assumed ones counted as purchased: an unchanged re-run (every number
    routed to its environment's agent) reads none of them.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        agents = pool.submit(client.list_agents)
        book = RouteBook(client.list_routes())
        state = FleetState(agents.result(), book)
    book.learn_purchased(client, fleet_targets(state, environments), assumed)
    to_complete = [matches[0] for matches in (state.agents_named(environment.name) for environment in environments
                                              if environment.language is not None) if matches]
    if to_complete:
        # The list may leave the language out, and then only the agent itself tells it.
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(to_complete)))) as pool:
            for item, agent in zip(to_complete, pool.map(lambda item: complete(client, item), to_complete)):
                state.completed[item['id']] = agent
    return state


def listed_elsewhere_problems(plan, listed_elsewhere):
    """One problem per environment whose plan would unmap or re-route numbers that environments this task does not apply
    list (listed_elsewhere: {number: environment}): applied apart, such a number would be taken from the one that lists it."""
    taken = {}
    for operation in plan.operations:
        if operation.resource == 'route' and operation.key in listed_elsewhere:
            taken.setdefault(operation.owner, []).append(operation)
    problems = []
    for owner in sorted(taken, key=str):
        others = sorted(set(listed_elsewhere[operation.key] for operation in taken[owner]))
        changes = ', '.join('%s %s (listed by %s)' % (operation.action, operation.key, listed_elsewhere[operation.key])
                            for operation in taken[owner])
        problems.append('environment %s: the task would %s, a number of an environment this task does not apply. Nothing was '
                        'changed: apply them together (playbooks/support_agent.yml: without --limit, or with %s too), so that '
                        'each number goes to the environment that lists it' % (owner, changes, ', '.join(others)))
    return problems


def fleet_targets(state, environments):
    """{number: the id of the agent its environment keeps}, None for an agent yet to be created or an environment removed."""
    targets = {}
    for environment in environments:
        matches = state.agents_named(environment.name) if environment.state == PRESENT else []
        targets.update(dict.fromkeys(environment.numbers, matches[0]['id'] if matches else None))
    return targets


class FleetPlan(Plan):
    """The fleet's plan, each operation owned by its environment, and each environment's agent (its id, or a Pending)."""

    def __init__(self):
        super().__init__()
        self.agent_of = {}  # environment name -> agent id or Pending
        self.current = {}  # environment name -> the agent kept, as it was before the run (None when created)

    def add(self, environment, plan):
        for operation in plan.operations:
            operation.owner = environment.environment
        return self.extend(plan)

    def parts(self):
        """{environment name: its operations}, in plan order, in one pass over the plan."""
        parts = {}
        for operation in self.operations:
            parts.setdefault(operation.owner, []).append(operation)
        return parts


def plan_fleet(client, environments, state, merge_duplicates=True, keep_token=None, rotated=frozenset()):
    """The whole fleet's plan: agents (stage 0), maps (1), unmaps (2), extra agents merged away (3).

    keep_token(environment) gives the function that receives the token of the agent created for that environment.
    rotated: names of environments whose rotation in progress an earlier task finishes (a prediction): left out of the
    plan, not refused.
    """
    fleet = FleetPlan()
    listed = dict((number, environment) for environment in environments for number in environment.numbers)
    for environment in environments:
        unpurchased = state.book.not_purchased(environment.numbers)
        fleet.problems.extend('environment %s: %s' % (environment.environment, problem) for problem in unpurchased.problems)
        fleet.facts.setdefault('numbers', []).extend(unpurchased.facts.get('numbers', []))
    extras = []
    for environment in environments:
        rotation = rotation_problem_in_progress(state.agents_about(environment.name), environment.name)
        if rotation:  # the successor may already be the agent the runtime uses: no new agent, no number moved off it
            if environment.environment not in rotated:
                fleet.problems.append('environment %s: %s' % (environment.environment, rotation))
            continue
        matches = state.agents_named(environment.name)
        if environment.state == ABSENT:
            _plan_removal(client, fleet, environment, matches, state, listed)
            extras.extend((environment, agent) for agent in matches)
            continue
        if len(matches) > 1 and not merge_duplicates:
            fleet.problems.append('environment %s: %d agents are named %r (ids: %s): set merge_duplicate_agents=true to keep the lowest id '
                                  'and merge the others into it, or delete the extra agents'
                                  % (environment.environment, len(matches), environment.name, ', '.join(agent['id'] for agent in matches)))
            continue
        _plan_environment(client, fleet, environment, matches, state, listed, keep_token)
        extras.extend((environment, extra) for extra in matches[1:])
    for environment, extra in extras:  # once every route write is planned: a delete requires those that move its numbers
        fleet.add(environment, plan_merge_away(client, state.book, extra, fleet.operations))
    return fleet


def _plan_environment(client, fleet, environment, matches, state, listed, keep_token):
    keep = matches[0] if matches else None
    current = state.completed.get(keep['id'], normalize_agent(keep)) if keep else None
    fleet.current[environment.environment] = current
    keeper = keep_token(environment) if keep_token else _drop_token
    agent_plan, agent_id = plan_agent_present(client, current, environment.name, environment.language, keeper, stage=AGENT_STAGE)
    fleet.add(environment, agent_plan)
    fleet.agent_of[environment.environment] = agent_id
    owned = [agent['id'] for agent in matches]
    fleet.add(environment, plan_numbers(client, state.book, environment, agent_id, owned, listed))


def _plan_removal(client, fleet, environment, matches, state, listed):
    """An environment removed: every number routed to an agent with its name unmapped, unless another environment lists it
    (that environment's map moves it); the agents themselves are deleted with the extras, once their numbers are gone."""
    fleet.current[environment.environment] = normalize_agent(matches[0]) if matches else None
    fleet.agent_of[environment.environment] = None
    emptied = Environment(environment.environment, environment.name, None, [], True)
    fleet.add(environment, plan_numbers(client, state.book, emptied, None, [agent['id'] for agent in matches], listed))


def _drop_token(unused_token):
    return None


def plan_numbers(client, book, environment, agent_id, owned, listed):
    """Map every listed number to the agent; then what becomes of the numbers routed to the environment's agents but not listed.

    owned: the ids of every agent with the environment's name (the one kept first). An unlisted number that another
    environment lists is left to that environment's map. Any other unlisted number is unmapped when the environment is
    exclusive, and otherwise, when it routes to an extra agent, moved to the one kept.
    """
    plan = Plan()
    for number in environment.numbers:
        if book.agent_of(number) != agent_id:
            plan.operations.append(plan_map(client, book, number, agent_id, MAP_STAGE))
    mine = set(environment.numbers)
    for number in sorted(number for owner in owned for number in book.routed_to(owner)):
        if number in mine or number in listed:
            continue
        if environment.exclusive:
            plan.operations.append(unmap_if_still_routed(client, book, number, owned))
        elif book.agent_of(number) != agent_id:
            plan.operations.append(plan_map(client, book, number, agent_id, MAP_STAGE))
    return plan


def unmap_if_still_routed(client, book, number, owned, stage=UNMAP_STAGE):
    """Unmap a number, reading its route fresh first: a number that now routes to an agent outside `owned`, or to none, is left alone.

    Its send returns the route left alone (not None) when it skipped, so that the fleet does not report it as a change.
    """
    def send(unused_after):
        route = client.get_route(number)
        if route is None or route.get('agent_id') not in owned:
            return SkippedWrite(route)
        try:
            client.delete_route(number)
        except PiopiyAPIError as error:
            if error.status == 404:
                return SkippedWrite(None)  # another run removed it in between
            raise
        return None
    return Operation('unmap', 'route', number, book.route(number), None, send, stage=stage)


def plan_merge_away(client, book, extra, operations, stage=MERGE_STAGE):
    """Delete an extra agent with a fleet's agent name, once every write that moves its numbers away is applied."""
    numbers = set(book.routed_to(extra['id']))
    requires = [operation for operation in operations if operation.resource == 'route' and operation.key in numbers]

    def send(unused_after):
        try:
            client.delete_agent(extra['id'])
        except PiopiyAPIError as error:
            if error.status == 404:
                return SkippedWrite(None)  # a concurrent run merged it first
            raise
        return None
    agent = normalize_agent(extra)
    return Plan([Operation('delete', 'agent', agent['name'], agent, None, send, stage=stage, requires=requires)])


def sorted_by_id(agents, name):
    """The agents with this name, lowest id first: the first is the one the convergence rule keeps."""
    return sorted(agents_named(agents, name), key=lambda agent: agent['id'])


def plan_converge(client, book, environment, matches):
    """The convergence rule for one name, as its own plan: keep matches[0] (the lowest id), route to it the numbers the
    environment lists and those of the other agents (unmapped instead, for an exclusive environment's unlisted numbers),
    and delete the others once their numbers are moved. book: the routes read after the agents were listed.
    """
    keep = matches[0]['id']
    plan = plan_numbers(client, book, environment, keep, [agent['id'] for agent in matches], set(environment.numbers))
    for extra in matches[1:]:
        plan.extend(plan_merge_away(client, book, extra, plan.operations))
    return plan


def confirmed_agents(outcomes):
    """Each environment's agent as its last applied create or update confirmed it, by environment name: indexed once, so that
    the result of a fleet costs one pass over its writes, not one per environment."""
    agents = {}
    for outcome in outcomes:
        operation = outcome.operation
        if outcome.applied and operation.resource == 'agent' and operation.action in ('create', 'update'):
            agents[operation.key] = outcome.resource
    return agents


def planned_agent(environment, current, agent_id, confirmed):
    """The environment's agent after the writes: the one its last applied agent write confirmed (confirmed: confirmed_agents),
    else as it was; None for an environment removed."""
    if environment.state == ABSENT:
        return None
    agent = confirmed.get(environment.name, current)
    if agent is None:
        return {'id': agent_id, 'name': environment.name, 'language': environment.language or DEFAULT_LANGUAGE, 'status': NEW_AGENT}
    return agent


class CreatedTokens:
    """The tokens of the agents a fleet run creates, held until their environments' token files are written; never returned.

    An env file needs the agent's id, which the API confirms with the create; so the files are written once the writes are done.
    """

    def __init__(self, token_dir=None):
        self.token_dir = token_dir
        self.kept = {}  # environment name -> (TokenFile, token)
        self.lost = {}  # environment name -> the TokenFile of a created agent whose answer, with the token, was lost
        self.files = {}  # environment name -> the path written
        self.problems = []  # tokens that could not be written, each naming its environment

    def keeper(self, environment):
        """The keep_token of the environment's agent plan: it holds the token of the created agent, when there is a file for it."""
        target = environment.token_file
        if target is None and self.token_dir:
            target = TokenFile(os.path.join(self.token_dir, environment.environment + '.token'))

        def keep(token):
            if target is not None and token is not None:
                self.kept[environment.environment] = (target, token)
            elif target is not None:  # the create was settled by a read-back: the agent exists, its token is gone
                self.lost[environment.environment] = target
        return keep

    def write_created(self, outcomes):
        """Write the token of every agent the outcomes created, with the id the API confirmed."""
        for outcome in outcomes:
            operation = outcome.operation
            if outcome.applied and operation.resource == 'agent' and operation.action == 'create':
                self.write(operation.owner, outcome.resource['id'])

    def write(self, environment, agent_id):
        """Write the token held for the environment's new agent, whose id the API confirmed; a failure is noted, never raised."""
        held = self.kept.pop(environment, None)
        lost = self.lost.pop(environment, None)
        if held is None and lost is not None:
            self.problems.append('environment %s: its agent %s was created, but the answer carrying its token was lost on the network, so '
                                 'nothing was written to %s: rotate the agent for a new token (playbooks/support_agent.yml: '
                                 'support_agent_rotate=now)' % (environment, agent_id, lost.path))
        if held is None:
            return
        target, token = held
        try:
            write_credentials(target.path, target.file_format, agent_id, token, datetime.datetime.now(datetime.timezone.utc), target.env_names)
        except (OSError, ValueError) as error:
            self.problems.append('environment %s: its agent was created, but its token could not be written to %s (%s): the token is not '
                                 'shown anywhere; rotate the agent for a new one' % (environment, target.path, getattr(error, 'strerror', None) or error))
            return
        self.files[environment] = target.path


def removal_problems(fleet, environments, confirmed):
    """Environments to remove whose part of the plan writes anything, and that `confirmed` does not name: each refused, named."""
    confirmed = set(confirmed or ())
    problems = []
    parts = fleet.parts()
    for environment in environments:
        if environment.state != ABSENT or environment.environment in confirmed:
            continue
        part = parts.get(environment.environment)
        if not part:
            continue
        agents = sorted(set(operation.key for operation in part if operation.resource == 'agent'))
        numbers = sorted(operation.key for operation in part if operation.resource == 'route')
        problems.append('environment %s is to be removed (state absent): %s%s. Nothing was changed: confirm the removal by naming it in '
                        'confirm_removal (playbooks/support_agent.yml: -e confirm=%s)'
                        % (environment.environment, 'agent %s would be deleted' % ', '.join(agents) if agents else 'nothing would be deleted',
                           ' and %d number(s) unmapped: %s' % (len(numbers), describe_numbers(numbers)) if numbers else '',
                           environment.environment))
    return problems


def describe_numbers(numbers, shown=SHOWN_NUMBERS):
    return ', '.join(numbers[:shown]) + (' and %d more' % (len(numbers) - shown) if len(numbers) > shown else '')
