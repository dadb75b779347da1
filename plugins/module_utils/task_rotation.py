# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the piopiy_agent_rotation task: the rotation of an agent's credentials by replacement, in the steps of
resource_rotation, resumable from the workspace's own state.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import MissingCallError, PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Plan, rendered
from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import find_by_id
from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import (
    IDLE,
    PREPARED,
    due_reason,
    missing_calls_problem,
    plan_create_successor,
    plan_finish,
    plan_replace_lost_successor,
    read_rotation,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import RouteBook
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
from ansible_collections.piopiy.voice.plugins.module_utils.task_agent import lock_timeout_problem, name_lock
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import PiopiyTask, TaskReport


class CredentialsNotStored(PiopiyAPIError):
    """A successor was created but its credentials could not be stored: nothing that relies on them may follow."""

    def __init__(self, reason):
        super().__init__('POST', '/ai-agents', hint=reason)

    def describe(self):
        return self.hint


class SuccessorCredentials:
    """Where a successor's token goes: token_file, the old file kept as <token_file>.previous; never anywhere else.

    The create's answer hands over the token (take); the confirmed successor then gives the id an env file needs
    (store, the create operation's on_confirmed). A token that cannot be stored fails the create, so no number moves
    to an agent whose credentials nobody holds.
    fresh: the rotation starts with this create, so a .previous left by an earlier rotation is replaced.
    """

    def __init__(self, params, fresh):
        self.params = params
        self.fresh = fresh
        self.token = None
        self.backup_error = None  # an OSError of the backup, reported by store() without writing the token
        self.extra = {}

    def take(self, token):
        # The backup is taken when the answer (or the read-back of a lost one) comes in, before any token is written: a
        # token file still equal to its backup then says the successor's token was never stored, for either format.
        try:
            keep_backup(self.params['token_file'], fresh=self.fresh)
        except OSError as error:
            self.backup_error = error
        self.token = token

    def store(self, agent):
        token, self.token = self.token, None
        name, path = agent.get('name'), self.params['token_file']
        if token is None:
            raise CredentialsNotStored('agent %s was created, but the answer carrying its token was lost on the network: run the '
                                       'rotation again, which replaces this successor' % name)
        if self.backup_error is not None:
            raise CredentialsNotStored('agent %s was created, but the old credentials could not be kept as %s.previous (%s), so its '
                                       'token was not written and is not shown anywhere; fix the directory, then run the rotation '
                                       'again, which replaces this successor' % (name, path, self.backup_error.strerror or self.backup_error))
        try:
            write_credentials(path, self.params['token_file_format'], agent['id'], token,
                              datetime.datetime.now(datetime.timezone.utc), self.params['token_env_names'])
        except (OSError, ValueError) as error:
            raise CredentialsNotStored('agent %s was created, but its token could not be written to token_file %s (%s): the token is '
                                       'not shown anywhere; fix the file, then run the rotation again, which replaces this successor'
                                       % (name, path, getattr(error, 'strerror', None) or error))
        self.extra['agent_token_file'] = path


def routes_only(client):
    """The routes, with the routed numbers as the purchased ones: the API routes only purchased numbers, and a rotation moves
    only numbers that are routed, so it never walks the purchased numbers."""
    try:
        routes = client.list_routes()
    except MissingCallError as error:  # on the published calls alone: the book says the routes are unknown
        return RouteBook([], set(), error)
    return RouteBook(routes, set(route.get('phone_number') for route in routes))


@dataclass
class RotationRead:
    """What a rotation read: where the rotation stands (resource_rotation.RotationState), and the routes when it finishes."""

    rotation: object
    book: RouteBook = None


class RotationTask(PiopiyTask):
    """Replace the agent by a successor with new credentials, in the steps of resource_rotation, resumable."""

    kind = 'agent'

    def __init__(self, module):
        super().__init__(module)
        self.keeper = None  # plan() sets it when the plan creates a successor
        self.summary = {}

    def validate(self):
        params = self.params
        problems = env_names_problems(params['token_env_names']) if params['token_env_names'] is not None else []
        if not params['name'].strip():
            problems.append('name must not be empty: give the name of the agent to rotate')
        problem = secret_file_problem(params['token_file'])
        if problem:
            problems.append('token_file %s cannot be written (%s): fix the path before a successor is created' % (params['token_file'], problem))
        if params['start'] == 'due' and parse_duration(params['token_max_age'] or '') is None:
            problems.append('start=due needs token_max_age, a duration such as 90d, 12h or 30m (a bare number is days): got %r'
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
        finishing = self.params['phase'] != 'prepare' or self.module.check_mode
        book = routes_only(client) if finishing and not state.problem else None
        return RotationRead(state, book)

    def plan(self, client, state, round_number):
        rotation, params = state.rotation, self.params
        plan = Plan(problems=[rotation.problem] if rotation.problem else [])
        if rotation.problem:
            return plan
        path, file_format, names = params['token_file'], params['token_file_format'], params['token_env_names']
        self.summary = dict(id=rotation.rotation_id, state_before=rotation.phase, phase=params['phase'], started=False,
                            reason=None, in_progress=rotation.phase != IDLE, completed=False, check_mode=self.module.check_mode)
        successor = rotation.successor
        if rotation.canonical is None and successor is None and params['start'] == 'now' and params['phase'] != 'finish':
            # Not a failure: the support_agent role rotates before it creates a new environment's agent. Said once, by the
            # task that would start the rotation.
            self.module.warn('no agent named %r in this workspace, so nothing was rotated: check the name (piopiy.voice.'
                             'piopiy_agent_info lists the agents); an agent created later is rotated by the next run'
                             % params['name'])
        stored = successor is not None and holds_credentials_of(path, file_format, successor['id'], names)
        finish_stage = 0
        # Nothing is written in check mode, so prepare shows the steps that finish would take after the hand-over too.
        phase = 'all' if self.module.check_mode and params['phase'] == 'prepare' else params['phase']
        active = rotation.phase != IDLE or (phase != 'finish' and self.start_reason(rotation))
        problem = active and missing_calls_problem(client.capabilities, rotation, state.book, phase != 'finish', phase != 'prepare')
        if problem:  # on an API without the calls a step needs: before any write, so the rotation stays where it was
            plan.problems.append(problem)
            return plan
        if phase != 'finish':
            if rotation.phase == IDLE:
                reason = self.start_reason(rotation)
                if reason:
                    self.keeper = SuccessorCredentials(params, fresh=True)
                    create, successor_id = plan_create_successor(client, rotation, self.keeper.take)
                    successor = create.operations[0].after
                    plan.extend(create)
                    self.summary.update(started=True, reason=reason, in_progress=True)
                    finish_stage, stored = 1, True
            elif rotation.phase == PREPARED and not stored:
                self.keeper = SuccessorCredentials(params, fresh=False)
                replace, successor_id = plan_replace_lost_successor(client, rotation, state.book or routes_only(client), self.keeper.take)
                plan.extend(replace)
                successor = replace.operations[-1].after if replace.operations else successor
                self.summary['reason'] = 'the token file does not hold the successor\'s token: the successor is replaced'
                finish_stage, stored = 2, True
            for operation in plan.operations:
                if operation.action == 'create':
                    operation.on_confirmed = self.keeper.store
        if successor is not None:
            self.summary['successor'] = {'id': successor['id'], 'name': successor['name']}  # rendered in result(), once its id is known
        if phase != 'prepare' and successor is not None:
            if not stored:
                plan.problems.append('token_file %s does not hold the token of successor %s (%s): run phase=prepare first, '
                                     'which replaces a successor whose token was lost' % (path, successor['name'], successor['id']))
                return plan
            made_by = [operation for operation in plan.operations if operation.action == 'create']
            plan.extend(plan_finish(client, rotation, state.book, successor, params['name'], self.drain, finish_stage, made_by))
        return plan

    def start_reason(self, rotation):
        """Why a rotation starts now, or None: on demand, or due by the token file's age."""
        if rotation.canonical is None:
            return None
        if self.params['start'] == 'now':
            return 'start=now'
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
        values = dict(self.keeper.extra if self.keeper else {}, agent=after, rotation=rendered(self.summary))
        if self.summary.get('id'):
            values['rotation_id'] = self.summary['id']
        return TaskReport(values, before, after)
