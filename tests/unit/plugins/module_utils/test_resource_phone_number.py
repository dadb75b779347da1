# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The phone number resource: the plans that buy or release numbers, the money guards, search and settle. No HTTP."""

from __future__ import annotations

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import ListPage, MissingCallError
from ansible_collections.piopiy.voice.plugins.module_utils.client_capabilities import MissingCall
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import FAILED, NOT_SENT, WriteDoor, report
from ansible_collections.piopiy.voice.plugins.module_utils.resource_phone_number import (
    MoneyGuards,
    NumberBook,
    money_guard_problems,
    money_moves,
    plan_buy,
    plan_release,
    search_available,
    settle_buy,
    settle_release,
)

OWNED = '+19499800001'
ROUTED = '+19499800002'
NEW = '+19499810000'
NEW_2 = '+19499810001'


def purchased(number):
    return {'id': 'num_' + number[-4:], 'number': number, 'status': 'active'}


def route(number, agent_id):
    return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}


class FakeClient:
    """The workspace's purchased numbers and routes in memory; writes are recorded and applied, or fail as told."""

    def __init__(self, numbers=(OWNED, ROUTED), routes=(route(ROUTED, 'agent_1'),), pages=None, release_missing=False):
        self.numbers = [purchased(number) for number in numbers]
        self.routes = list(routes)
        self.pages = pages or {}
        self.release_missing = release_missing
        self.calls = []

    def list_purchased_numbers(self, until=None):
        self.calls.append('list_purchased_numbers')
        return list(self.numbers)

    def list_routes(self, agent_id=None):
        self.calls.append('list_routes')
        return list(self.routes)

    def available_numbers_page(self, region, cursor=None, limit=100):
        self.calls.append(('page', region, cursor, limit))
        return self.pages[cursor]

    def buy_number(self, number, settle=None):
        self.calls.append(('buy', number))
        self.numbers.append(purchased(number))
        return purchased(number)

    def release_number(self, number, settle=None):
        self.calls.append(('release', number))
        if self.release_missing:
            raise MissingCallError(MissingCall('POST /release-phone-number', 'no release call'), status=405)
        self.numbers = [item for item in self.numbers if item['number'] != number]
        return {'number': number, 'status': 'released'}

    def delete_route(self, number):
        self.calls.append(('unmap', number))
        self.routes = [item for item in self.routes if item['phone_number'] != number]
        return {}


def read(client, numbers, with_routes=True):
    return NumberBook.read(client, numbers, with_routes)


def keys(plan):
    return [(operation.action, operation.key) for operation in plan.operations]


# ---- plans ----

def test_a_buy_only_for_numbers_not_purchased_and_nothing_sent_while_planning():
    client = FakeClient()
    plan = plan_buy(client, read(client, [OWNED, NEW], with_routes=False), [OWNED, NEW, NEW_2])
    assert keys(plan) == [('buy', NEW), ('buy', NEW_2)]
    assert client.calls == ['list_purchased_numbers']
    # check mode records the planned `after`: the number, its id known only once bought
    assert plan.operations[0].record(plan.operations[0].after) == {
        'op': 'buy', 'resource': 'phone_number', 'phone_number': NEW, 'id': None, 'before': None,
        'after': {'phone_number': NEW, 'id': None, 'status': 'purchased'}}


def test_buying_what_is_purchased_is_no_change():
    client = FakeClient()
    assert keys(plan_buy(client, read(client, [OWNED], with_routes=False), [OWNED])) == []


def test_routes_are_read_only_when_a_listed_number_is_purchased():
    client = FakeClient()
    read(client, [NEW])
    assert client.calls == ['list_purchased_numbers']
    read(client, [NEW, OWNED])
    assert client.calls[-1] == 'list_routes'


def test_a_release_only_for_purchased_numbers_and_with_unroute_first_after_its_unmap():
    client = FakeClient()
    book = read(client, [OWNED, ROUTED, NEW])
    assert keys(plan_release(client, book, [OWNED, ROUTED, NEW], unroute_first=False)) == [('release', OWNED), ('release', ROUTED)]
    plan = plan_release(client, book, [OWNED, ROUTED, NEW], unroute_first=True)
    assert keys(plan) == [('unmap', ROUTED), ('release', OWNED), ('release', ROUTED)]
    unmap, release_owned, release_routed = plan.operations
    assert (unmap.stage, release_owned.stage, release_routed.stage) == (0, 0, 1)
    assert release_routed.requires == [unmap] and release_owned.requires == []
    assert release_routed.before == {'phone_number': ROUTED, 'id': 'num_0002', 'status': 'purchased', 'agent_id': 'agent_1'}


def test_a_release_is_not_sent_when_its_unmap_failed():
    client = FakeClient()
    plan = plan_release(client, read(client, [ROUTED]), [ROUTED], unroute_first=True)

    def refuse(unused_after):
        raise MissingCallError(MissingCall('DELETE /phone-number-routing/{phone_number}', 'no route delete'), status=405)
    plan.operations[0].send = refuse
    outcomes = WriteDoor().apply(plan)
    assert [outcome.status for outcome in outcomes] == [FAILED, NOT_SENT]
    assert ('release', ROUTED) not in client.calls


def test_a_missing_release_call_fails_the_operation_and_releases_nothing():
    client = FakeClient(release_missing=True)
    outcomes = WriteDoor().apply(plan_release(client, read(client, [OWNED]), [OWNED], unroute_first=False))
    records, failures, changed = report(outcomes)
    assert (records, changed) == ([], False)
    assert 'no release call' in str(failures[0].error)
    assert OWNED in [item['number'] for item in client.numbers]


def test_applied_buys_and_releases_are_recorded_with_the_number_and_its_id():
    client = FakeClient()
    book = read(client, [NEW, OWNED])
    records, unused_failures, changed = report(WriteDoor().apply(plan_buy(client, book, [NEW])))
    assert changed
    assert records == [{'op': 'buy', 'resource': 'phone_number', 'phone_number': NEW, 'id': 'num_0000',
                        'before': None, 'after': {'phone_number': NEW, 'id': 'num_0000', 'status': 'purchased'}}]
    records, unused_failures, changed = report(WriteDoor().apply(plan_release(client, book, [OWNED], unroute_first=False)))
    assert records[0]['op'] == 'release' and records[0]['id'] == 'num_0001' and records[0]['after'] is None


# ---- money guards ----

def test_buying_needs_a_budget_and_the_message_names_every_number_and_the_setting():
    (problem,) = money_guard_problems([NEW, NEW_2], [], {}, MoneyGuards())
    assert problem.startswith('the task would buy 2 number(s), more than max_purchases=0: +19499810000, +19499810001.')
    assert 'set max_purchases to 2' in problem
    assert money_guard_problems([NEW, NEW_2], [], {}, MoneyGuards(max_purchases=2)) == []
    (role,) = money_guard_problems([NEW], [], {}, MoneyGuards(max_purchases=0, budget_option='support_agent_max_purchases'))
    assert 'more than support_agent_max_purchases=0' in role


def test_a_long_list_is_shortened_but_counted():
    numbers = ['+1949981%04d' % offset for offset in range(12)]
    (problem,) = money_guard_problems(numbers, [], {}, MoneyGuards(max_purchases=3))
    assert 'would buy 12 number(s)' in problem and '+19499810009 and 2 more' in problem


def test_a_release_needs_each_number_confirmed():
    (problem,) = money_guard_problems([], [OWNED, NEW], {}, MoneyGuards(confirm_release=frozenset([OWNED])))
    assert 'release 1 number(s) not named in confirm_release: +19499810000.' in problem
    assert money_guard_problems([], [OWNED], {}, MoneyGuards(confirm_release=frozenset([OWNED]))) == []


def test_a_routed_number_is_refused_unless_unrouted_first():
    guards = MoneyGuards(confirm_release=frozenset([ROUTED]))
    (problem,) = money_guard_problems([], [ROUTED], {ROUTED: 'agent_1'}, guards)
    assert '+19499800002 (agent_1)' in problem and 'unroute_first=true' in problem
    assert money_guard_problems([], [ROUTED], {ROUTED: 'agent_1'}, MoneyGuards(confirm_release=frozenset([ROUTED]),
                                                                               unroute_first=True)) == []


def test_a_protected_number_is_released_only_when_allowed():
    guards = dict(confirm_release=frozenset([OWNED]), protected=frozenset([OWNED]))
    (problem,) = money_guard_problems([], [OWNED], {}, MoneyGuards(**guards))
    assert 'release protected number(s): +19499800001' in problem and 'allow_protected_changes=true' in problem
    assert money_guard_problems([], [OWNED], {}, MoneyGuards(allow_protected=True, **guards)) == []


def test_every_guard_is_reported_at_once():
    problems = money_guard_problems([NEW], [ROUTED], {ROUTED: 'agent_1'}, MoneyGuards(protected=frozenset([ROUTED])))
    assert len(problems) == 4


def test_money_moves_lists_buys_and_releases_only():
    client = FakeClient()
    plan = plan_release(client, read(client, [ROUTED, OWNED]), [ROUTED, OWNED], unroute_first=True)
    assert money_moves(plan) == ([], [ROUTED, OWNED])


# ---- search ----

def available(number, capabilities=('voice',)):
    return {'id': 'num_x', 'number': number, 'region': 'US', 'capabilities': list(capabilities)}


def test_a_search_reads_pages_until_it_has_enough_and_returns_the_cursor_after_them():
    pages = {None: ListPage([available(NEW)], 'c1'), 'c1': ListPage([available(NEW_2)], 'c2'),
             'c2': ListPage([available('+19499810002')], None)}
    client = FakeClient(pages=pages)
    found = search_available(client, 'US', limit=2)
    assert [number['phone_number'] for number in found.numbers] == [NEW, NEW_2]
    assert (found.next_cursor, found.pages) == ('c2', 2)
    assert client.calls == [('page', 'US', None, 2), ('page', 'US', 'c1', 1)]
    assert search_available(FakeClient(pages=pages), 'US', limit=5, cursor='c2').next_cursor is None


def test_a_capability_is_filtered_here_from_whole_pages():
    pages = {None: ListPage([available(NEW), available(NEW_2, ('voice', 'sms'))], 'c1'),
             'c1': ListPage([available('+16505550100', ('voice', 'sms'))], None)}
    client = FakeClient(pages=pages)
    found = search_available(client, 'US', capability='sms', limit=5)
    assert [number['phone_number'] for number in found.numbers] == [NEW_2, '+16505550100']
    assert found.numbers[0] == {'phone_number': NEW_2, 'id': 'num_x', 'region': 'US', 'capabilities': ['voice', 'sms']}
    assert [call[3] for call in client.calls] == [100, 100]


def test_a_search_stops_on_a_cursor_that_repeats():
    pages = {None: ListPage([], 'c1'), 'c1': ListPage([], 'c1')}
    found = search_available(FakeClient(pages=pages), 'US', limit=5)
    assert (found.numbers, found.next_cursor, found.pages) == ([], None, 2)


# ---- settle ----

def test_a_lost_buy_is_applied_when_the_number_is_purchased_now():
    client = FakeClient(numbers=(OWNED, NEW))
    settled = settle_buy(client, NEW)
    assert settled.applied and settled.resource['number'] == NEW
    assert not settle_buy(client, NEW_2).applied and settle_buy(client, NEW_2).conflict is None


def test_a_lost_release_is_applied_when_the_number_is_gone():
    client = FakeClient(numbers=(OWNED,))
    assert settle_release(client, NEW).applied
    assert not settle_release(client, OWNED).applied
