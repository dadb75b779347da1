# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the piopiy_agent task: its options, an agent by name or id and its numbers.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import (
    complete,
    find_by_id,
    find_by_name,
    language_problem,
    language_unknown_warning,
    Lookup,
    normalize_agent,
    plan_agent_absent,
    plan_agent_present,
    rename_problem,
)
from ansible_collections.piopiy.voice.plugins.module_utils.client_api import UPDATE_AGENT
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Plan, rendered
from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import changed_underneath
from ansible_collections.piopiy.voice.plugins.module_utils.resource_workspace import Environment, plan_converge, sorted_by_id
from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import AgentLock, lock_path
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import (
    PiopiyTask,
    TaskReport,
    empty_id_problems,
    guard_rails,
    parallel_requests_problem,
    warn_routes_unknown,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import rotation_problem_in_progress, rotation_problem_of_agent
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import (
    ROUTE_UNKNOWN,
    RouteBook,
    guard_problems,
    numbers_routed_to,
    parse_phone_numbers,
    plan_routes_present,
    plan_unmap_all,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_token_file import (
    ENV_FORMAT,
    env_names_problems,
    read_credentials,
    secret_file_problem,
    write_credentials,
)

ROTATE_ADVICE = ('a token is only issued when an agent is created, so rotate the agent to get a new one '
                 '(piopiy.voice.piopiy_agent_rotation with token_file; in the support_agent role, support_agent_rotate=now)')


class CredentialKeeper:
    """Where a new agent's token goes: token_file, else the result when return_token asks for it, else nowhere (with a warning).

    The create hands over the token (take), and the confirmed agent then gives the id an env file needs (store, the
    create operation's on_confirmed).
    """

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.token = None
        self.stored = False
        self.extra = {}
        self.late = []

    def take(self, token):
        self.token = token

    def store(self, agent):
        token, self.token = self.token, None
        name = agent.get('name')
        if token is None:
            self.module.warn('agent %s was created, but the answer carrying its token was lost on the network: %s' % (name, ROTATE_ADVICE))
        elif self.params['token_file']:
            self.write(agent, token)
        elif self.params['return_token']:
            self.extra['agent_token'] = token
            self.module.warn('the token of new agent %s is returned as agent_token: set no_log: true on this task, or it is printed '
                             'with -v and on failure; token_file keeps it out of the output' % name)
        else:
            self.module.warn('the token of new agent %s was not kept: set token_file (or return_token=true with no_log: true) to keep '
                             'a new token; %s' % (name, ROTATE_ADVICE))

    def write(self, agent, token):
        path = self.params['token_file']
        try:
            write_credentials(path, self.params['token_file_format'], agent['id'], token,
                              datetime.datetime.now(datetime.timezone.utc), self.params['token_env_names'])
        except (OSError, ValueError) as error:
            reason = ('agent %s was created, but its token could not be written to token_file %s (%s): the token is not shown '
                      'anywhere; %s' % (agent.get('name'), path, getattr(error, 'strerror', None) or error, ROTATE_ADVICE))
            self.late.append(reason)
            return
        self.stored = True
        self.extra['agent_token_file'] = path


def lost_token_warning(params, agent):
    """A warning when token_file should hold the existing agent's token but does not: it was lost, and rotation is the fix."""
    path = params['token_file']
    if not path or agent is None or not isinstance(agent.get('id'), str):
        return None
    stored = read_credentials(path, params['token_file_format'], params['token_env_names'])
    if not stored.has_token:
        return ('agent %s (%s) exists but token_file %s holds no token: its token was lost (a run stopped between the create and '
                'the write, or the answer was lost); %s' % (agent['name'], agent['id'], path, ROTATE_ADVICE))
    if params['token_file_format'] == ENV_FORMAT and stored.agent_id != agent['id']:
        return ('token_file %s holds the credentials of agent %s, not of agent %s (%s): %s'
                % (path, stored.agent_id, agent['name'], agent['id'], ROTATE_ADVICE))
    return None


def name_lock(params):
    """The lock on the agent name in the workspace of the task, on this machine; None without a name (validate() says so)."""
    if not params['name'] or not params['name'].strip():
        return None
    return AgentLock(lock_path(params['api_base'], params['api_key'], params['name']), timeout=params['lock_timeout'],
                     what='agent name %r' % params['name'])


def lock_timeout_problem(seconds):
    if seconds < 0:
        return 'lock_timeout must be 0 or more seconds, got %d' % seconds
    return None


def merged_away_warning(params, own, keep, stored, returned):
    """The warning when the agent this task created was merged into a concurrent run's agent, and so deleted."""
    text = ('agent %r (%s) that this task created was merged into agent %s, which a concurrent run created with the same name '
            'and which has the lowest id of them (the convergence rule): its numbers now route to %s, and %s was deleted'
            % (params['name'], own['id'], keep['id'], keep['id'], own['id']))
    if stored:
        text += ('; token_file %s holds the token of the deleted agent %s, not of %s: %s'
                 % (params['token_file'], own['id'], keep['id'], ROTATE_ADVICE))
    elif returned:
        text += '; the agent_token returned is that of the deleted agent %s: %s' % (own['id'], ROTATE_ADVICE)
    return text


def token_file_problems(params):
    problems = []
    if params['token_env_names'] is not None:
        problems.extend(env_names_problems(params['token_env_names']))
    if params['state'] == 'present' and params['token_file']:
        problem = secret_file_problem(params['token_file'])
        if problem:
            problems.append('token_file %s cannot be written (%s): fix the path before creating an agent' % (params['token_file'], problem))
    return problems


@dataclass
class AgentState:
    """What an agent task read: the agent found (a Lookup), the agents listed for a rename's check, the routes it needs,
    and the problem of a rotation in progress on the name."""

    lookup: Lookup
    agents: list = None
    book: RouteBook = None
    rotation: str = None


@dataclass
class ConvergeState:
    """What a convergence round read: the agents with the task's name (lowest id first), the routes, the agent kept."""

    matches: list
    book: RouteBook
    keep: dict


class AgentTask(PiopiyTask):
    """An agent by name or id; with phone_numbers, the agent's plan followed by the route plan for its id.

    After this task created the agent, the loop's convergence rounds apply the convergence rule when agents with its name
    appeared meanwhile. The read found no agent with the name (else nothing was created), so every other agent with it
    now was created by a concurrent run, on another machine (runs on this one take turns). As piopiy_fleet does: the
    lowest id is kept, the numbers this task lists and those of the others are routed to it, and the others are deleted.
    """

    kind = 'agent'

    def __init__(self, module):
        super().__init__(module)
        self.numbers, self.number_problems = (None, [])
        if self.params['phone_numbers'] is not None:
            self.numbers, self.number_problems = parse_phone_numbers('phone_numbers', self.params['phone_numbers'])
        self.bought, bought_problems = parse_phone_numbers('bought_numbers', self.params['bought_numbers'])
        self.number_problems = self.number_problems + bought_problems
        self.keeper = CredentialKeeper(module)
        self.agent_id = None  # plan() sets it: the agent's id, or a Pending for the agent the plan creates
        self.guards, self.guard_problems = guard_rails(self.params)
        self.created = None  # the agent this task created, once confirmed
        self.listed = None  # the agents with the name, as the check after the writes listed them for the next round
        self.late = []

    def lock(self):
        """Creating by name: the lock on the name, so that runs on this machine never both create it."""
        params = self.params
        if params['state'] != 'present' or params['id'] or self.module.check_mode:
            return None
        return name_lock(params)

    def validate(self):
        params = self.params
        problems = empty_id_problems(params, 'id') + self.number_problems + self.guard_problems + token_file_problems(params)
        problems.append(parallel_requests_problem(params['parallel_requests']))
        problems.append(lock_timeout_problem(params['lock_timeout']))
        if params['name'] is not None and not params['name'].strip():
            problems.append('name must not be empty: give the agent a name such as prod-support-agent')
        problems.append(language_problem(params['language']))
        if params['state'] == 'absent' and params['phone_numbers']:
            problems.append('with state=absent, phone_numbers can only be [] (unmap every number of the agent, then delete it): '
                            'an agent that is deleted keeps no numbers')
        return problems

    def read(self, client, round_number):
        if round_number:
            return self.read_to_converge(client)
        params = self.params
        if params['id']:
            state = AgentState(find_by_id(client, params['id']))
            current = state.lookup.agent
            if current:
                # The agents' list tells a rename that would take another agent's name, and a rotation in progress.
                state.agents = client.list_agents()
                state.rotation = rotation_problem_of_agent(state.agents, current)
        else:
            agents = client.list_agents()
            state = AgentState(find_by_name(client, params['name'], 'id', agents=agents),
                               rotation=rotation_problem_in_progress(agents, params['name']))
            current = state.lookup.agent
        if params['state'] == 'absent':
            if current:
                # The API refuses to delete an agent with routes: read them, so that check mode predicts the refusal.
                state.book = RouteBook.read(client, agent_id=current['id'])
        elif self.numbers is not None:
            # In check mode, an earlier task of the play would have bought the bought_numbers.
            state.book = RouteBook.read(client, numbers=self.numbers, assumed=self.bought if self.module.check_mode else (),
                                        target=current['id'] if current else None)
        warn_routes_unknown(self.module, client, state.book)
        return state

    def another_round(self, client, outcomes):
        """After the first round: whether agents with the name this task created appeared meanwhile; after a convergence
        round: whether its writes met a concurrent run's own merge."""
        if self.created is not None:
            return changed_underneath(outcomes)
        created = [outcome.resource for outcome in outcomes
                   if outcome.applied and outcome.operation.resource == 'agent' and outcome.operation.action == 'create']
        if not created:
            return False
        self.created = created[0]
        matches = sorted_by_id(client.list_agents(), self.params['name'])
        if not matches:
            self.late.append('agent %r (%s) was created, but no agent has that name any more: another run deleted it; '
                             'run the task again' % (self.params['name'], self.created['id']))
            return False
        self.listed = matches
        return [agent['id'] for agent in matches] != [self.created['id']]  # alone with its name: nothing to converge

    def read_to_converge(self, client):
        matches, self.listed = self.listed, None
        if matches is None:
            matches = sorted_by_id(client.list_agents(), self.params['name'])
        if not matches:
            return ConvergeState([], None, None)
        book = RouteBook(client.list_routes())
        own = self.created
        keep = own if matches[0]['id'] == own['id'] else complete(client, matches[0]) or normalize_agent(matches[0])
        return ConvergeState(matches, book, keep)

    def plan(self, client, state, round_number):
        if round_number:
            params = self.params
            if not state.matches:
                return Plan(problems=['agent %r (%s) was created, but no agent has that name any more: another run deleted it; '
                                      'run the task again' % (params['name'], self.created['id'])])
            environment = Environment(params['name'], params['name'], params['language'], self.numbers or [],
                                      self.numbers is not None and params['exclusive'])
            return plan_converge(client, state.book, environment, state.matches)
        plan = self.plan_agent_and_routes(client, state)
        plan.problems.extend(guard_problems(plan, set(self.numbers or ()), **self.guards))
        return plan

    def plan_agent_and_routes(self, client, state):
        params, lookup = self.params, state.lookup
        current = lookup.agent
        plan = Plan(problems=[problem for problem in (lookup.problem, state.rotation) if problem])
        if params['state'] == 'absent':
            if current is None:
                return plan
            self.agent_id = current['id']
            known = state.book.known  # else: no route can be read or removed, and the API's refusal of the delete says so
            if self.numbers == []:  # phone_numbers: [] unmaps them all, then deletes
                unmaps = plan_unmap_all(client, state.book, current['id'])
                return plan.extend(unmaps).extend(plan_agent_absent(client, current, [], stage=1, requires=unmaps.operations,
                                                                    routes_known=known))
            return plan.extend(plan_agent_absent(client, current, state.book.routed_to(current['id']), routes_known=known))
        if params['id'] and current is None:
            plan.problems.append('no agent with id %s in this workspace: an agent is never created from an id; '
                                 'remove id to create one by name' % params['id'])
            return plan
        if state.agents is not None and params['name']:
            plan.problems.append(rename_problem(state.agents, current, params['name']))
            plan.problems = [problem for problem in plan.problems if problem]
        agent_plan, self.agent_id = plan_agent_present(client, current, params['name'], params['language'], self.keeper.take,
                                                       update_missing=client.capabilities.lacks(UPDATE_AGENT))
        for operation in agent_plan.operations:
            if operation.action == 'create':
                operation.on_confirmed = self.keeper.store
        plan.extend(agent_plan)
        for warning in (lost_token_warning(params, current), language_unknown_warning(client, current, params['language'])):
            if warning and not plan.problems:
                self.module.warn(warning)
        if self.numbers is not None:
            routes = plan_routes_present(client, state.book, self.numbers, self.agent_id, params['exclusive'], stage=1)
            if client.capabilities.learns and not client.capabilities.has_answered(UPDATE_AGENT):
                # The update may be the first contact with a PATCH the API lacks: then nothing else is sent, nothing half-applied.
                updates = [operation for operation in agent_plan.operations if operation.action == 'update']
                for operation in routes.operations:
                    operation.requires.extend(updates)
            plan.extend(routes)
        return plan

    def result(self, loop):
        state = loop.first.state
        current = state.lookup.agent
        after, book, agent_id, outcomes = current, state.book, self.agent_id, loop.outcomes
        for outcome in outcomes:
            if outcome.operation.resource == 'agent' and outcome.applied:
                after = outcome.resource  # None after a delete
        if len(loop.rounds) > 1:  # the agent kept by the convergence rule, and the routes as converging left them
            converged = loop.last
            after, book, agent_id, outcomes = converged.state.keep, converged.state.book, converged.state.keep['id'], converged.outcomes
            if agent_id != self.created['id']:
                self.module.warn(merged_away_warning(self.params, self.created, converged.state.keep, self.keeper.stored,
                                                     'agent_token' in self.keeper.extra))
        before = dict(current) if current else None
        values = dict(self.keeper.extra)
        if self.numbers is not None and before:
            before['phone_numbers'] = state.book.routed_to(current['id'])
            if not state.book.known:  # the diff says so per number, rather than claiming the agent has none
                before['phone_numbers'] = dict((number, ROUTE_UNKNOWN) for number in self.numbers)
        if self.numbers is not None and after is not None:
            after = dict(after, phone_numbers=numbers_routed_to(book.after(outcomes), agent_id))
        if state.book is not None and not state.book.known:
            values['routes_unknown'] = True
        after = rendered(after)
        values['agent'] = after or {}
        return TaskReport(values, before or {}, after or {})

    def problems_after_apply(self):
        return self.keeper.late + self.late
