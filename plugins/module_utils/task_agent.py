# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the piopiy_agent task: its options, an agent by name or id and its numbers, or the rotation of its credentials.
"""

from __future__ import annotations

import datetime
import time
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
from ansible_collections.piopiy.voice.plugins.module_utils.client_api import UPDATE_AGENT, PiopiyAPIError
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
from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import (
    IDLE,
    PREPARED,
    due_reason,
    missing_calls_problem,
    plan_create_successor,
    plan_finish,
    plan_replace_lost_successor,
    read_rotation,
    rotation_problem_in_progress,
)
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
    drop_backup,
    env_names_problems,
    holds_credentials_of,
    keep_backup,
    parse_duration,
    read_credentials,
    secret_file_problem,
    write_credentials,
)

ROTATE_ADVICE = ('a token is only issued when an agent is created, so rotate the agent to get a new one '
                 '(rotate=now with token_file; in the support_agent role, support_agent_rotate=now)')


class CredentialsNotStored(PiopiyAPIError):
    """A rotation's successor was created but its credentials could not be stored: nothing that relies on them may follow."""

    def __init__(self, reason):
        super().__init__('POST', '/ai-agents', hint=reason)

    def describe(self):
        return self.hint


class CredentialKeeper:
    """Where a new agent's token goes: token_file, else the result when return_token asks for it, else nowhere (with a warning).

    The create hands over the token (take), and the confirmed agent then gives the id an env file needs (store).
    """

    def __init__(self, module, backup=False, strict=False):
        self.module = module
        self.params = module.params
        self.backup = backup  # keep the old file as <file>.previous: a rotation replaces credentials in use
        self.strict = strict  # fail the create when its token cannot be stored: a rotation must not go on without it
        self.token = None
        self.stored = False
        self.extra = {}
        self.late = []

    def take(self, token):
        self.token = token

    def kept(self, operation):
        """The create operation, storing the token of the agent its answer confirms."""
        send = operation.send

        def send_and_store(resolved):
            agent = send(resolved)
            self.store(agent)
            return agent
        operation.send = send_and_store
        return operation

    def store(self, agent):
        token, self.token = self.token, None
        name = agent.get('name')
        if token is None:
            lost = 'agent %s was created, but the answer carrying its token was lost on the network' % name
            if self.strict:
                raise CredentialsNotStored(lost + ': run the rotation again, which replaces this successor')
            self.module.warn('%s: %s' % (lost, ROTATE_ADVICE))
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
            if self.backup:
                keep_backup(path)
            write_credentials(path, self.params['token_file_format'], agent['id'], token,
                              datetime.datetime.now(datetime.timezone.utc), self.params['token_env_names'])
        except (OSError, ValueError) as error:
            reason = ('agent %s was created, but its token could not be written to token_file %s (%s): the token is not shown '
                      'anywhere; %s' % (agent.get('name'), path, getattr(error, 'strerror', None) or error, ROTATE_ADVICE))
            if self.strict:
                raise CredentialsNotStored(reason)
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
            if current and params['name'] and params['name'] != current['name']:
                state.agents = client.list_agents()  # a rename must not take another agent's name
        else:
            agents = client.list_agents()
            state = AgentState(find_by_name(client, params['name'], 'id', agents=agents),
                               rotation=rotation_problem_in_progress(agents, params['name']))
            current = state.lookup.agent
        if params['state'] == 'absent':
            if current:
                # The API refuses to delete an agent with routes: read them, so that check mode predicts the refusal.
                state.book = RouteBook.read(client, with_purchased=False, agent_id=current['id'])
        elif self.numbers is not None:
            state.book = RouteBook.read(client)
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
        if state.agents is not None:
            plan.problems.append(rename_problem(state.agents, current, params['name']))
            plan.problems = [problem for problem in plan.problems if problem]
        agent_plan, self.agent_id = plan_agent_present(client, current, params['name'], params['language'], self.keeper.take,
                                                       update_missing=client.capabilities.lacks(UPDATE_AGENT))
        for operation in agent_plan.operations:
            if operation.action == 'create':
                self.keeper.kept(operation)
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


@dataclass
class RotationState:
    """What a rotation read: where the rotation stands (resource_rotation.RotationState), and the routes when it finishes."""

    rotation: object
    book: RouteBook = None


class RotationTask(PiopiyTask):
    """rotate: replace the agent by a successor with new credentials, in the steps of piopiy_rotation, resumable."""

    kind = 'agent'

    def __init__(self, module):
        super().__init__(module)
        self.keeper = CredentialKeeper(module, backup=True, strict=True)
        self.summary = {}

    def validate(self):
        params = self.params
        problems = token_file_problems(params)
        alone = [option for option in ('id', 'language', 'phone_numbers') if params[option] is not None]
        if params['state'] != 'present':
            alone.append('state=absent')
        if alone:
            problems.append('rotate=%s runs alone: leave out %s (ensure the agent and its numbers in another task; the successor '
                            'keeps the language and takes over every number)' % (params['rotate'], ', '.join(alone)))
        if not params['name'] or not params['name'].strip():
            problems.append('rotate needs name: the agent to rotate, by its name')
        if not params['token_file']:
            problems.append('rotate needs token_file: the new agent\'s credentials must be stored before any number moves to it')
        if params['rotate'] == 'due' and parse_duration(params['token_max_age'] or '') is None:
            problems.append('rotate=due needs token_max_age, a duration such as 90d, 12h or 30m (a bare number is days): got %r'
                            % params['token_max_age'])
        problems.append(lock_timeout_problem(params['lock_timeout']))
        if params['drain_seconds'] < 0:
            problems.append('drain_seconds must be 0 or more, got %d' % params['drain_seconds'])
        return problems

    def lock(self):
        """The lock on the agent's name: a rotation and another task on the agent on this machine take turns."""
        return None if self.module.check_mode else name_lock(self.params)

    def read(self, client, round_number):
        state = read_rotation(client.list_agents(), self.params['name'])
        if state.canonical and state.canonical.get('language') is None:
            state.canonical = find_by_id(client, state.canonical['id']).agent
        finishing = self.params['rotation_phase'] != 'prepare' or self.module.check_mode
        book = RouteBook.read(client) if finishing and not state.problem else None
        return RotationState(state, book)

    def plan(self, client, state, round_number):
        rotation, params = state.rotation, self.params
        plan = Plan(problems=[rotation.problem] if rotation.problem else [])
        if rotation.problem or not params['token_file']:  # validate() names a missing token_file
            return plan
        path, file_format, names = params['token_file'], params['token_file_format'], params['token_env_names']
        self.summary = dict(id=rotation.rotation_id, state_before=rotation.phase, phase=params['rotation_phase'], started=False,
                            reason=None, in_progress=rotation.phase != IDLE, completed=False, check_mode=self.module.check_mode)
        successor = rotation.successor
        stored = successor is not None and holds_credentials_of(path, file_format, successor['id'], names)
        finish_stage = 0
        # Nothing is written in check mode, so prepare shows the steps that finish would take after the hand-over too.
        phase = 'all' if self.module.check_mode and params['rotation_phase'] == 'prepare' else params['rotation_phase']
        active = rotation.phase != IDLE or (phase != 'finish' and self.start_reason(rotation))
        problem = active and missing_calls_problem(client.capabilities, rotation, state.book, phase != 'finish', phase != 'prepare')
        if problem:  # on an API without the calls a step needs: before any write, so the rotation stays where it was
            plan.problems.append(problem)
            return plan
        if phase != 'finish':
            if rotation.phase == IDLE:
                reason = self.start_reason(rotation)
                if reason:
                    create, successor_id = plan_create_successor(client, rotation, self.keeper.take)
                    successor = create.operations[0].after
                    plan.extend(create)
                    self.summary.update(started=True, reason=reason, in_progress=True)
                    finish_stage, stored = 1, True
            elif rotation.phase == PREPARED and not stored:
                replace, successor_id = plan_replace_lost_successor(client, rotation, state.book or RouteBook.read(client), self.keeper.take)
                plan.extend(replace)
                successor = replace.operations[-1].after if replace.operations else successor
                self.summary['reason'] = 'the token file does not hold the successor\'s token: the successor is replaced'
                finish_stage, stored = 2, True
            for operation in plan.operations:
                if operation.action == 'create':
                    self.keeper.kept(operation)
        if successor is not None:
            self.summary['successor'] = {'id': successor['id'], 'name': successor['name']}  # rendered in result(), once its id is known
        if phase != 'prepare' and successor is not None:
            if not stored:
                plan.problems.append('token_file %s does not hold the token of successor %s (%s): run rotation_phase=prepare first, '
                                     'which replaces a successor whose token was lost' % (path, successor['name'], successor['id']))
                return plan
            plan.extend(plan_finish(client, rotation, state.book, successor, params['name'], self.drain, finish_stage))
        return plan

    def start_reason(self, rotation):
        """Why a rotation starts now, or None: on demand, or due by the token file's age."""
        if rotation.canonical is None:
            return None
        if self.params['rotate'] == 'now':
            return 'rotate=now'
        params = self.params
        stored = read_credentials(params['token_file'], params['token_file_format'], params['token_env_names'])
        if params['token_file_format'] == ENV_FORMAT and stored.has_token and stored.agent_id != rotation.canonical['id']:
            return 'the token file holds the credentials of another agent'
        return due_reason(stored, parse_duration(params['token_max_age']), datetime.datetime.now(datetime.timezone.utc))

    def drain(self):
        if self.params['drain_seconds']:
            time.sleep(self.params['drain_seconds'])

    def result(self, loop):
        rotation, outcomes = loop.first.state.rotation, loop.outcomes
        agent = rotation.canonical
        for outcome in outcomes:
            operation = outcome.operation
            if outcome.applied and operation.resource == 'agent' and operation.action == 'delete' and agent and operation.before['id'] == agent['id']:
                agent = None
            if outcome.applied and operation.action == 'update' and outcome.resource['name'] == self.params['name']:
                agent = outcome.resource
                self.summary.update(completed=True, in_progress=False)
        if self.summary.get('completed') and not self.module.check_mode:
            drop_backup(self.params['token_file'])
        before, after = rendered(rotation.canonical) or {}, rendered(agent) or {}
        values = dict(self.keeper.extra, agent=after, rotation=rendered(self.summary))
        if self.summary.get('id'):
            values['rotation_id'] = self.summary['id']
        return TaskReport(values, before, after)

    def problems_after_apply(self):
        return self.keeper.late


def agent_task(module):
    """The task of a piopiy_agent run: the agent by name or id, or the rotation of its credentials."""
    return AgentTask(module) if module.params['rotate'] == 'never' else RotationTask(module)
