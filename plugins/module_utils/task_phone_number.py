# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the piopiy_phone_number task: listed numbers bought (present) or released (absent), within the money guards.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Plan
from ansible_collections.piopiy.voice.plugins.module_utils.resource_phone_number import (
    RESOURCE,
    MoneyGuards,
    NumberBook,
    money_guard_problems,
    money_moves,
    not_purchased,
    plan_buy,
    plan_release,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import guard_problems, parse_phone_numbers
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import (
    PiopiyTask,
    TaskReport,
    guard_rails,
    parallel_requests_problem,
)


@dataclass(frozen=True)
class NumbersRead:
    """What the task read: the purchased numbers, and the routes when it releases."""

    book: NumberBook


class PhoneNumberTask(PiopiyTask):
    """The listed numbers purchased (present) or released (absent)."""

    kind = 'phone_numbers'

    def __init__(self, module):
        super().__init__(module)
        self.numbers, self.number_problems = parse_phone_numbers('phone_numbers', self.params['phone_numbers'])
        confirmed, self.confirm_problems = parse_phone_numbers('confirm_release', self.params['confirm_release'])
        self.route_guards, self.route_guard_problems = guard_rails(self.params)
        self.guards = MoneyGuards(max_purchases=self.params['max_purchases'], confirm_release=frozenset(confirmed),
                                  protected=frozenset(self.route_guards['protected']),
                                  allow_protected=self.params['allow_protected_changes'], unroute_first=self.params['unroute_first'])

    def validate(self):
        problems = self.number_problems + self.confirm_problems + self.route_guard_problems
        if not self.params['phone_numbers']:
            problems.append('phone_numbers is empty: list the numbers to buy (state=present) or release (state=absent)')
        if self.params['max_purchases'] < 0:
            problems.append('max_purchases must be 0 or more, got %d' % self.params['max_purchases'])
        return problems + [parallel_requests_problem(self.params['parallel_requests'])]

    def read(self, client, round_number):
        return NumbersRead(NumberBook.read(client, self.numbers, with_routes=self.params['state'] == 'absent'))

    def plan(self, client, state, round_number):
        book = state.book
        if self.params['state'] == 'present':
            plan = plan_buy(client, book, self.numbers)
        else:
            plan = plan_release(client, book, self.numbers, self.params['unroute_first'])
        buys, releases = money_moves(plan)
        problems = money_guard_problems(buys, releases, book.routed(releases), self.guards)
        problems.extend(guard_problems(plan, set(self.numbers), **self.route_guards))
        facts = {'numbers': buys or releases} if problems and (buys or releases) else {}
        return Plan(plan.operations, problems, facts)

    def result(self, loop):
        book, outcomes = loop.first.state.book, loop.outcomes
        after = dict((number, book.state(number)) for number in self.numbers)
        moved = {'buy': [], 'release': []}
        for outcome in outcomes:
            operation = outcome.operation
            if not outcome.applied or operation.key not in after:
                continue
            if operation.resource == RESOURCE:
                moved[operation.action].append(operation.key)
                after[operation.key] = dict(outcome.resource or not_purchased(operation.key))
            if 'agent_id' in after[operation.key] or (operation.resource == RESOURCE and book.routes is not None):
                after[operation.key]['agent_id'] = None  # unmapped, or released with its route
        shown = [after[number] for number in self.numbers]
        values = {'phone_numbers': shown, 'bought': moved['buy'], 'released': moved['release']}
        return TaskReport(values, {'phone_numbers': [book.state(number) for number in self.numbers]}, {'phone_numbers': shown})
