# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one loop, read -> plan -> apply -> converge, with a scripted task. No HTTP."""

from __future__ import annotations

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils import engine_loop
from ansible_collections.piopiy.voice.plugins.module_utils.client_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import CONVERGENCE_ROUNDS, LoopTask, TaskFailure, run_loop
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Operation, Plan


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(engine_loop, 'pause_before_round', lambda round_number: None)


class ScriptedTask(LoopTask):
    """Each round plans one map per number of `rounds[n]`; a number in `refused` fails with its status; `again` says how many
    rounds ask for another."""

    def __init__(self, rounds, again=0, refused=None, problems=(), late_problems=(), read_error=None):
        self.rounds = rounds
        self.again = again
        self.refused = dict(refused or {})
        self.problems = list(problems)
        self.late_problems = list(late_problems)
        self.read_error = read_error
        self.reads = []
        self.sent = []

    def read(self, client, round_number):
        if self.read_error and round_number in self.read_error:
            raise self.read_error[round_number]
        self.reads.append(round_number)
        return 'state %d' % round_number

    def plan(self, client, state, round_number):
        if round_number and self.late_problems:
            return Plan(problems=self.late_problems)
        operations = [self.operation(number) for number in self.rounds[min(round_number, len(self.rounds) - 1)]]
        return Plan(operations, problems=self.problems if round_number == 0 else [])

    def operation(self, number):
        def send(after):
            self.sent.append(number)
            status = self.refused.pop(number, None)
            if status:
                raise PiopiyAPIError('POST', '/phone-number-routing', status=status)
            return after
        return Operation('map', 'route', number, None, {'phone_number': number, 'agent_id': 'agent_1'}, send)

    def another_round(self, client, outcomes):
        if self.again:
            self.again -= 1
            return True
        return False


def test_check_mode_ends_with_the_plan_and_sends_nothing():
    task = ScriptedTask([['+1', '+2']], again=3)
    loop = run_loop(task, None, check_mode=True)
    assert task.sent == [] and task.reads == [0] and len(loop.rounds) == 1
    assert [outcome.operation.key for outcome in loop.outcomes if outcome.applied] == ['+1', '+2']


def test_every_problem_of_the_input_and_the_plan_fails_the_task_before_any_write():
    task = ScriptedTask([['+1']], problems=['number +9 is not purchased'])
    with pytest.raises(TaskFailure) as failed:
        run_loop(task, None, check_mode=False, problems=['name must not be empty'])
    assert failed.value.facts['problems'] == ['name must not be empty', 'number +9 is not purchased']
    assert failed.value.facts['changed'] is False and task.sent == []


def test_a_read_that_fails_is_reported_with_the_input_problems_and_the_api_facts():
    task = ScriptedTask([['+1']], read_error={0: PiopiyAPIError('GET', '/ai-agents', status=503)})
    with pytest.raises(TaskFailure) as failed:
        run_loop(task, None, check_mode=False, problems=['bad language'])
    assert failed.value.facts['status'] == 503 and failed.value.facts['problems'][0] == 'bad language'
    assert task.sent == []


def test_one_round_when_nothing_changed_underneath():
    task = ScriptedTask([['+1', '+2']])
    loop = run_loop(task, None, check_mode=False)
    assert task.reads == [0] and task.sent == ['+1', '+2'] and loop.late == []
    assert all(outcome.applied for outcome in loop.outcomes)


def test_a_new_round_reads_again_and_retries_only_what_failed():
    task = ScriptedTask([['+1', '+2'], ['+2']], again=1, refused={'+2': 409})
    loop = run_loop(task, None, check_mode=False)
    assert task.reads == [0, 1] and task.sent == ['+1', '+2', '+2']
    assert [round_.number for round_ in loop.rounds] == [0, 1]
    assert [(outcome.operation.key, outcome.applied) for outcome in loop.outcomes] == [('+1', True), ('+2', True)]


def test_the_loop_stops_after_its_rounds():
    task = ScriptedTask([['+1']], again=100)
    loop = run_loop(task, None, check_mode=False)
    assert len(loop.rounds) == CONVERGENCE_ROUNDS == len(task.reads)


def test_a_later_round_with_problems_is_reported_late_and_writes_nothing():
    task = ScriptedTask([['+1']], again=1, late_problems=['agent gone'])
    loop = run_loop(task, None, check_mode=False)
    assert task.sent == ['+1'] and loop.late == ['a new round after a concurrent change found: agent gone']


def test_a_later_read_that_fails_is_reported_late():
    task = ScriptedTask([['+1']], again=1, read_error={1: PiopiyAPIError('GET', '/ai-agents', status=503)})
    loop = run_loop(task, None, check_mode=False)
    assert len(loop.rounds) == 1 and loop.late[0].startswith('a new round after a concurrent change could not read the workspace')


def test_a_check_for_concurrent_changes_that_fails_is_reported_late():
    class Failing(ScriptedTask):
        def another_round(self, client, outcomes):
            raise PiopiyAPIError('GET', '/ai-agents', status=500)
    loop = run_loop(Failing([['+1']]), None, check_mode=False)
    assert len(loop.rounds) == 1 and loop.late[0].startswith('after the writes, the check for changes by a concurrent run failed')
