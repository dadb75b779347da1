# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one loop of every piopiy.voice task: read -> plan -> apply -> converge. Private to the collection.

Round 0 reads what exists and plans. Every problem of the input or of that plan fails the task before its first
write, naming them all; check mode ends with the plan. Otherwise the write door applies it. Then, for as long as the
task finds that the workspace changed underneath it (a concurrent run created an agent with the same name, or a
write met another run's changes), a new round reads again, plans again and applies, after a short random pause so
that two runs fall out of step; CONVERGENCE_ROUNDS in all at most. One environment (piopiy_agent) and a whole
workspace (piopiy_fleet) go through the same loop and the same convergence rule.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import WriteDoor, planned_outcomes, problems_message

CONVERGENCE_ROUNDS = 5
# Before each new round, a random pause of up to this many seconds times the round's number: two runs that met
# each other's writes then rarely read and write in step again.
ROUND_JITTER_SECONDS = 0.25
# A write answered so because another run changed the workspace since this run read it: not found, conflict, unprocessable.
CONCURRENT_CHANGE_STATUSES = (404, 409, 422)


class TaskFailure(Exception):
    """The task fails: its message, and the facts returned beside it (problems, numbers, the API's status, the result)."""

    def __init__(self, msg, **facts):
        super().__init__(msg)
        self.msg = msg
        self.facts = facts


@dataclass
class Round:
    """One pass of the loop: what was read, what was planned from it, and what became of each planned operation."""

    number: int
    state: object
    plan: object
    outcomes: list


@dataclass
class LoopResult:
    """Every round of a run; the outcomes that count (applied in any round, or failed in the last attempt at them);
    and the problems met after the first write, reported with the failures."""

    rounds: list
    outcomes: list
    late: list = field(default_factory=list)

    @property
    def first(self):
        return self.rounds[0]

    @property
    def last(self):
        return self.rounds[-1]


class LoopTask:
    """What a task declares to the loop; the defaults are those of a task that converges in one round."""

    def read(self, client, round_number):
        raise NotImplementedError

    def plan(self, client, state, round_number):
        """The Plan of a round. Round 0's problems fail the task before any write; a later round finishes what round 0
        started, after a concurrent change."""
        raise NotImplementedError

    def another_round(self, client, outcomes):
        """After a round's writes: whether the workspace changed underneath them, so that a new round must converge."""
        return False


def run_loop(task, client, check_mode, workers=1, problems=(), rounds=CONVERGENCE_ROUNDS):
    """Read, plan, then (not in check mode) apply and converge. problems: those of the input alone, reported with
    those of the read and the plan in one failure (TaskFailure) before any write."""
    problems = list(problems)
    try:
        state = task.read(client, 0)
    except PiopiyAPIError as error:
        problems.append(str(error))
        raise TaskFailure(problems_message(problems), problems=problems, changed=False, **error.facts())
    plan = task.plan(client, state, 0)
    problems.extend(plan.problems)
    if problems:
        raise TaskFailure(problems_message(problems), problems=problems, changed=False,
                          **dict((key, value) for key, value in plan.facts.items() if value))
    if check_mode:
        planned = planned_outcomes(plan)
        return LoopResult([Round(0, state, plan, planned)], planned)
    door = WriteDoor(workers)
    applied = door.apply(plan)
    result = LoopResult([Round(0, state, plan, applied)], list(applied))
    for number in range(1, rounds):
        if not _needs_round(task, client, applied, result.late):
            break
        pause_before_round(number)
        try:
            state = task.read(client, number)
        except PiopiyAPIError as error:
            result.late.append('a new round after a concurrent change could not read the workspace: %s; run the task again' % error)
            break
        plan = task.plan(client, state, number)
        if plan.problems:
            result.late.append('a new round after a concurrent change found: %s' % problems_message(plan.problems))
            break
        applied = door.apply(plan)
        # A new round retries what failed; a write the API applied stays, even when what had to follow it failed.
        result.outcomes = [outcome for outcome in result.outcomes if outcome.made] + applied
        result.rounds.append(Round(number, state, plan, applied))
    return result


def _needs_round(task, client, applied, late):
    try:
        return task.another_round(client, applied)
    except PiopiyAPIError as error:
        late.append('after the writes, the check for changes by a concurrent run failed: %s; run the task again' % error)
        return False


def pause_before_round(round_number):
    """A random pause before round round_number (1 for the first one after the writes): runs fall out of step."""
    time.sleep(random.uniform(0, ROUND_JITTER_SECONDS * round_number))


def changed_underneath(outcomes):
    """Whether a write failed because the workspace changed since the read (an agent gone, a delete refused)."""
    return any(not outcome.applied and getattr(outcome.error, 'status', None) in CONCURRENT_CHANGE_STATUSES for outcome in outcomes)


def created_twice(client, outcomes):
    """The names of the agents these outcomes created that another agent now has too: a concurrent run created it as well."""
    created = set(outcome.operation.key for outcome in outcomes if outcome.applied and outcome.operation.action == 'create')
    if not created:
        return set()
    # Each agent once, by id (a list may repeat an item across pages), counted by name in one pass.
    names = Counter(dict((agent.get('id'), agent.get('name')) for agent in client.list_agents()).values())
    return set(name for name in created if names[name] > 1)
