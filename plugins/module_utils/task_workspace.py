# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the piopiy_fleet task: its options, the workspace lock, the rounds of read, plan and apply, and the result."""

from __future__ import annotations

import os

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import (
    WriteDoor,
    failure_message,
    first_api_error,
    planned_outcomes,
    problems_message,
    rendered,
    report,
    was_skipped,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_workspace import (
    CONVERGENCE_ROUNDS,
    pause_before_round,
    changed_underneath,
    created_twice,
    guard_fleet,
    parse_fleet,
    plan_fleet,
    planned_agent,
    read_fleet,
)
from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import DEFAULT_LOCK_TIMEOUT, AgentLock, workspace_lock_path
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import (
    GUARD_RAILS_SPEC,
    guard_rails,
    held,
    parallel_requests_problem,
    piopiy_client,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import NumbersByAgent
from ansible_collections.piopiy.voice.plugins.module_utils.resource_token_file import write_secret_file

RATE_LIMITED_ATTEMPTS = 20


class FleetRun:
    """One run of the fleet: read, plan, apply, converge; then each environment's result."""

    def __init__(self, module, environments, problems):
        self.module = module
        self.params = module.params
        self.guards, guard_problems = guard_rails(self.params)
        self.problems = problems + guard_problems  # of the input alone: reported with those the read finds, in one failure
        self.environments = environments
        self.token_files = {}
        self.late = []
        self.client = self._client()

    def _client(self):
        params = self.params
        return piopiy_client(self.module, pool_size=max(1, params['parallel_requests']),
                             max_requests_per_second=params['max_requests_per_second'], rate_limited_attempts=RATE_LIMITED_ATTEMPTS)

    def keep_token(self, environment):
        """Where the token of the agent created for this environment goes: a 0600 file under token_dir, or nowhere."""
        def keep(token):
            if token is None or not self.params['token_dir']:
                return
            path = os.path.join(self.params['token_dir'], environment.environment + '.token')
            try:
                write_secret_file(path, token)
            except OSError as error:
                self.late.append('environment %s: its agent was created, but its token could not be written to %s (%s): '
                                 'issue a new one in the Piopiy dashboard' % (environment.environment, path, error.strerror or error))
                return
            self.token_files[environment.environment] = path
        return keep

    def run(self):
        """Rounds of read, plan, apply, holding the workspace's lock: one round, unless a run elsewhere changed the workspace."""
        params = self.params
        lock = None if self.module.check_mode else AgentLock(workspace_lock_path(params['api_base'], params['api_key']),
                                                             timeout=params['lock_timeout'], what='the fleet of this workspace')
        with held(self.module, lock):
            return self.rounds()

    def rounds(self):
        workers = self.params['parallel_requests']
        first = last = None
        outcomes, owner = [], {}
        for round_number in range(1 if self.module.check_mode else CONVERGENCE_ROUNDS):
            if round_number:
                pause_before_round(round_number)
            state, plan = self.read_and_plan(first_round=round_number == 0)
            if round_number and plan.problems:
                self.late.append('a new round after a concurrent change found: %s' % problems_message(plan.problems))
                break
            applied = planned_outcomes(plan) if self.module.check_mode else WriteDoor(workers).apply(plan)
            outcomes = [outcome for outcome in outcomes if outcome.applied] + applied  # a new round retries what failed
            owner.update(plan.owner)
            first, last = first or (state, plan), (state, plan, applied)
            if self.module.check_mode or not self.needs_another_round(applied):
                break
        state, plan, applied = last
        agents = dict((environment.environment, planned_agent(environment, plan.current.get(environment.environment),
                                                              plan.agent_of.get(environment.environment), applied))
                      for environment in self.environments)
        return self.result(first, outcomes, owner, agents, plan.agent_of, state.book.after(applied))

    def read_and_plan(self, first_round):
        """The workspace read and the fleet planned; the first round fails on any problem, before any write.

        Later rounds always merge duplicates: the only ones left are those this run and a concurrent one created.
        """
        try:
            state = read_fleet(self.client, self.environments, self.params['parallel_requests'])
        except PiopiyAPIError as error:
            self.module.fail_json(msg=str(error), changed=False, **error.facts())
        merge = self.params['merge_duplicate_agents'] or not first_round
        plan = plan_fleet(self.client, self.environments, state, merge, self.keep_token)
        problems = self.problems + plan.problems
        if first_round:  # a later round only finishes what the checked plan started, after a concurrent change
            problems.extend(guard_fleet(plan, self.environments, **self.guards))
        if first_round and problems:
            self.module.fail_json(msg=problems_message(problems), problems=problems, changed=False,
                                  **dict((key, value) for key, value in plan.facts.items() if value))
        return state, plan

    def needs_another_round(self, outcomes):
        """After a round's writes: another one when an agent it created was created by a concurrent run too, or a write met its changes."""
        failures = [outcome for outcome in outcomes if not outcome.applied and not was_skipped(outcome)]
        try:
            twice = created_twice(self.client, outcomes)
        except PiopiyAPIError as error:
            self.late.append('after the writes, the check for agents created twice by a concurrent run failed: %s; run the task again' % error)
            return False
        return bool(twice) or changed_underneath(failures)

    def result(self, first, outcomes, owner, agents, agent_ids, routes):
        """The result of every environment: its agent and numbers as the last round left them, and the writes of every round."""
        state, plan = first
        reported = [outcome for outcome in outcomes if not was_skipped(outcome)]
        records, failures, changed = report(reported)
        environments, before, after, applied = {}, {}, {}, {}
        for outcome in reported:
            if outcome.applied:
                applied.setdefault(owner.get(id(outcome.operation)), []).append(outcome.operation.record(outcome.resource))
        routed = NumbersByAgent(routes)
        for environment in self.environments:
            name = environment.environment
            mine = applied.get(name, [])
            agent = agents[name]
            numbers = routed.routed_to(agent_ids.get(name))
            environments[name] = dict(agent=rendered(agent), phone_numbers=numbers, changed=bool(mine), operations=mine)
            if name in self.token_files:
                environments[name]['agent_token_file'] = self.token_files[name]
            current = plan.current[name]
            before[name] = dict(agent=current or {}, phone_numbers=state.book.routed_to(current['id']) if current else [])
            after[name] = dict(agent=rendered(agent), phone_numbers=numbers)
        result = dict(environments=environments, operations=records, changed=changed)
        result['diff'] = {'before': before, 'after': after}  # Ansible shows it only with --diff
        if failures or self.late:
            messages = ([failure_message(reported, failures)] if failures else []) + self.late
            self.module.fail_json(msg='; '.join(messages), **dict(first_api_error(failures), **result))
        return result


def option_problems(params):
    problems = [parallel_requests_problem(params['parallel_requests'])]
    if params['lock_timeout'] < 0:
        problems.append('lock_timeout must be 0 or more seconds, got %d' % params['lock_timeout'])
    if params['max_requests_per_second'] < 0:
        problems.append('max_requests_per_second must be 0 (no cap) or more, got %s' % params['max_requests_per_second'])
    token_dir = params['token_dir']
    if token_dir and not os.path.isdir(token_dir):
        problems.append('token_dir %s is not a directory: create it before the run, or leave token_dir out' % token_dir)
    return [problem for problem in problems if problem]


def fleet_argument_spec():
    """The options of piopiy_fleet beyond the connection's (piopiy_module.connection_argument_spec)."""
    return dict(
        environments=dict(type='list', elements='dict', required=True, options=dict(
            environment=dict(type='str', required=True),
            name=dict(type='str'),
            language=dict(type='str'),
            phone_numbers=dict(type='list', elements='str', default=[]),
            exclusive=dict(type='bool', default=True),
            max_route_changes=dict(type='int'),
            allow_protected_changes=dict(type='bool'),
        )),
        merge_duplicate_agents=dict(type='bool', default=True),
        token_dir=dict(type='path'),
        parallel_requests=dict(type='int', default=64),
        max_requests_per_second=dict(type='float', default=0),
        lock_timeout=dict(type='int', default=DEFAULT_LOCK_TIMEOUT),
        **GUARD_RAILS_SPEC
    )


def run_fleet(module):
    """The task's result, once every environment is applied (or planned, in check mode); a failure exits through module.fail_json."""
    environments, problems = parse_fleet(module.params['environments'])
    return FleetRun(module, environments, option_problems(module.params) + problems).run()
