# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The task of piopiy_fleet: the environments of one workspace through the one loop, the workspace lock, and each environment's result."""

from __future__ import annotations

import os
from collections import Counter

from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import changed_underneath, created_twice
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import rendered, was_skipped
from ansible_collections.piopiy.voice.plugins.module_utils.resource_workspace import (
    PRESENT,
    CreatedTokens,
    confirmed_agents,
    guard_fleet,
    listed_elsewhere_problems,
    parse_fleet,
    plan_fleet,
    planned_agent,
    read_fleet,
    removal_problems,
)
from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import AgentLock, workspace_lock_path
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import PiopiyTask, TaskReport, guard_rails, parallel_requests_problem
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import NumbersByAgent, parse_phone_numbers

RATE_LIMITED_ATTEMPTS = 20


class WorkspaceTask(PiopiyTask):
    """The environments of one workspace, read once, planned together and written in parallel; each one's result."""

    kind = 'environments'

    def __init__(self, module):
        super().__init__(module)
        self.guards, guard_problems = guard_rails(self.params)
        self.environments, environment_problems = parse_fleet(self.params['environments'])
        self.problems = option_problems(self.params) + environment_problems + guard_problems
        self.tokens = CreatedTokens(self.params['token_dir'])
        self.bought, bought_problems = parse_phone_numbers('bought_numbers', self.params['bought_numbers'])
        self.problems.extend(bought_problems)
        self.listed_elsewhere, elsewhere_problems = parse_listed_elsewhere(self.params['numbers_listed_elsewhere'])
        self.problems.extend(elsewhere_problems)

    def client_options(self):
        return dict(max_requests_per_second=self.params['max_requests_per_second'], rate_limited_attempts=RATE_LIMITED_ATTEMPTS)

    def validate(self):
        return self.problems

    def lock(self):
        """The workspace's lock on this machine: fleet runs of one workspace here take turns (none in check mode)."""
        params = self.params
        if self.module.check_mode:
            return None
        return AgentLock(workspace_lock_path(params['api_base'], params['api_key']), timeout=params['lock_timeout'],
                         what='the fleet of this workspace')

    def read(self, client, round_number):
        # In check mode, an earlier task of the play would have bought the bought_numbers.
        return read_fleet(client, self.environments, self.params['parallel_requests'], self.bought if self.module.check_mode else ())

    def plan(self, client, state, round_number):
        """The fleet's plan. Round 0 is checked against the guard rails; a later round (after a concurrent change) only
        finishes what the checked plan started, and always merges duplicates: the only ones left are those this run and
        a concurrent one created."""
        merge = self.params['merge_duplicate_agents'] or round_number > 0
        # In check mode, an earlier task of the play would have finished the rotations of the rotated environments.
        rotated = set(self.params['rotated_environments']) if self.module.check_mode else set()
        plan = plan_fleet(client, self.environments, state, merge, self.tokens.keeper, rotated)
        if round_number == 0:
            plan.problems.extend(guard_fleet(plan, self.environments, **self.guards))
            plan.problems.extend(removal_problems(plan, self.environments, self.params['confirm_removal']))
            plan.problems.extend(listed_elsewhere_problems(plan, self.listed_elsewhere))
        return plan

    def another_round(self, client, outcomes):
        """Another round when an agent this round created was created by a concurrent run too, or a write met its changes."""
        return bool(created_twice(client, outcomes)) or changed_underneath(outcomes)

    def result(self, loop):
        """Every environment: its agent and numbers as the last round left them, and the writes of every round; the diff, of
        the environments that changed."""
        first, last = loop.first, loop.last
        plan = last.plan
        self.tokens.write_created(loop.outcomes)  # env files need the id the API confirmed
        routes = last.state.book.after(last.outcomes)
        # Each environment counts its writes; the writes themselves are the result's `operations`, each naming its
        # environment: listed twice, a thousand environments' writes made the result twice as long to return and read.
        writes = Counter(outcome.operation.owner for outcome in loop.outcomes if outcome.applied and not was_skipped(outcome))
        routed = NumbersByAgent(routes)
        confirmed = confirmed_agents(last.outcomes)
        environments, before, after = {}, {}, {}
        for environment in self.environments:
            name = environment.environment
            mine = writes[name]
            agent = rendered(planned_agent(environment, plan.current.get(name), plan.agent_of.get(name), confirmed))
            numbers = routed.routed_to(plan.agent_of.get(name)) if agent is not None else []
            # Each environment's result names it and its agent, so that a report can file its changes under it.
            environments[name] = dict(environment=name, agent_name=environment.name, state=environment.state, agent=agent,
                                      phone_numbers=numbers, changed=bool(mine), writes=mine)
            if name in self.tokens.files:
                environments[name]['agent_token_file'] = self.tokens.files[name]
            if mine:  # the diff shows the environments that change: over a thousand, the others would bury them
                current = first.plan.current[name]
                before[name] = dict(agent=current or {}, phone_numbers=first.state.book.routed_to(current['id']) if current else [])
                after[name] = dict(agent=agent or {}, phone_numbers=numbers)
                duplicates = merged_duplicates(first.state, environment, current)
                if duplicates:  # merged into the agent kept: their numbers move or go, and they are deleted
                    before[name]['duplicate_agents'] = duplicates
                    after[name]['duplicate_agents'] = []
        return TaskReport({'environments': environments, 'workspace': first.state.summary()}, before, after)

    def problems_after_apply(self):
        return self.tokens.problems


def merged_duplicates(state, environment, kept):
    """The other agents with the environment's agent name, as the read found them (each with its numbers): the merge into
    the kept one deletes them, so that the diff shows what goes."""
    if kept is None or environment.state != PRESENT:
        return []
    return [dict(id=agent['id'], name=agent['name'], phone_numbers=state.book.routed_to(agent['id']))
            for agent in state.agents_named(environment.name) if agent['id'] != kept['id']]


def parse_listed_elsewhere(listed):
    """({number in E.164: environment}, problems) of numbers_listed_elsewhere."""
    parsed, problems = {}, []
    for number, environment in sorted((listed or {}).items()):
        numbers, number_problems = parse_phone_numbers('numbers_listed_elsewhere', [number])
        problems.extend(number_problems)
        if numbers:
            parsed[numbers[0]] = str(environment)
    return parsed, problems


def option_problems(params):
    problems = [parallel_requests_problem(params['parallel_requests'])]
    if params['lock_timeout'] < 0:
        problems.append('lock_timeout must be 0 or more seconds, got %d' % params['lock_timeout'])
    if params['max_requests_per_second'] < 0:
        problems.append('max_requests_per_second must be 0 (no cap) or more, got %s' % params['max_requests_per_second'])
    token_dir = params['token_dir']
    if token_dir and not os.path.isdir(token_dir):
        problems.append('token_dir %s is not a directory: create it before the run, or leave token_dir out' % token_dir)
    if token_dir:
        problems.extend(token_file_name_problem(raw.get('environment')) for raw in params['environments'])
    return [problem for problem in problems if problem]


def token_file_name_problem(environment):
    """Why an environment's token file (token_dir/<environment>.token) would land outside token_dir, or None."""
    if isinstance(environment, str) and any(separator and separator in environment for separator in ('/', os.sep, os.altsep)):
        return ('environment %r cannot name a token file in token_dir (its token would be written outside token_dir): '
                'use an environment name without a path separator' % environment)
    return None
