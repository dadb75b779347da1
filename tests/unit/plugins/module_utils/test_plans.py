# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The plan and settle steps of the agent and route resources: given what exists and a task, the exact operations. No HTTP."""

from __future__ import annotations

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import LIST_ROUTES, MissingCallError
from ansible_collections.piopiy.voice.plugins.module_utils.client_capabilities import MissingCall
from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import (
    find_by_name,
    plan_agent_absent,
    plan_agent_present,
    rename_problem,
    settle_create,
)
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Pending, WriteDoor, planned_outcomes, report
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import (
    BUY_HINT,
    RouteBook,
    guard_problems,
    parse_phone_numbers,
    plan_routes_absent,
    plan_routes_present,
    run_route_changes_problem,
    settle_map,
)

AGENT = {'id': 'agent_1', 'name': 'prod-support-agent', 'language': 'en-IN', 'status': 'active'}
OTHER = {'id': 'agent_2', 'name': 'dev-support-agent', 'language': 'en-US', 'status': 'active'}
PURCHASED = {'+19499800001', '+19499800002', '+19499800003', '+19499800004'}


class FakeClient:
    """Answers reads from fixed data; plan steps never call it, settle steps only read."""

    def __init__(self, agents=(), routes=()):
        self.agents = list(agents)
        self.routes = dict((route['phone_number'], route) for route in routes)
        self.reads = []

    def list_agents(self):
        self.reads.append('list_agents')
        return list(self.agents)

    def get_agent(self, agent_id):
        self.reads.append('get_agent')
        return next((agent for agent in self.agents if agent['id'] == agent_id), None)

    def get_route(self, number):
        self.reads.append('get_route')
        return self.routes.get(number)


def route(number, agent_id):
    return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}


def book(*routes):
    return RouteBook(list(routes), set(PURCHASED))


def summaries(plan):
    return [operation.summary()[:2] for operation in plan.operations]


# ---- numbers ----

def test_every_malformed_and_repeated_number_is_named_in_one_pass():
    numbers, problems = parse_phone_numbers('phone_numbers', ['+1 (949) 980-0001', '12345', '+19499800001', 'call me', '19499800002'])

    assert numbers == ['+19499800001']
    assert problems[0].startswith("phone_numbers has 3 malformed phone number(s): '12345', 'call me', '19499800002' (no leading +: "
                                  'quote it in YAML, as "+19499800002", or it is read as a number)')
    assert problems[1] == ("phone_numbers lists 1 number(s) more than once: +19499800001 (as '+1 (949) 980-0001', '+19499800001'). "
                           'List each number once')


def test_well_formed_numbers_keep_their_order_and_give_no_problem():
    assert parse_phone_numbers('phone_number', ['+919876543210', '+1.949.980.0001']) == (['+919876543210', '+19499800001'], [])


def test_numbers_not_purchased_are_a_problem_naming_each():
    plan = plan_routes_present(None, book(), ['+19499800001', '+15550000000', '+442071230001'], 'agent_1', exclusive=False)

    assert plan.problems == ['2 number(s) are not purchased in this workspace: +15550000000, +442071230001. '
                             'Nothing was changed: ' + BUY_HINT]
    assert plan.facts == {'numbers': ['+15550000000', '+442071230001']}
    assert 'piopiy.voice.piopiy_phone_number with max_purchases' in BUY_HINT and 'support_agent_buy_missing_numbers: true' in BUY_HINT


# ---- reading the routes and the purchased numbers ----

class ListingClient:
    """The routes list (or none: routes_missing is the MissingCallError it raises) and purchased numbers in pages of two."""

    def __init__(self, routes=(), purchased=('+19499800001', '+19499800002', '+19499800003', '+19499800004'), routes_missing=None):
        self.routes = list(routes)
        self.purchased = list(purchased)
        self.routes_missing = routes_missing
        self.purchased_pages = 0

    def list_routes(self, agent_id=None):
        if self.routes_missing:
            raise self.routes_missing
        return [item for item in self.routes if agent_id in (None, item['agent_id'])]

    def list_purchased_numbers(self, until=None):
        items = []
        for start in range(0, len(self.purchased), 2):
            page = [{'number': number} for number in self.purchased[start:start + 2]]
            items.extend(page)
            self.purchased_pages += 1
            if until is not None and until(page):
                break
        return items


def test_every_listed_number_routed_to_its_target_reads_no_purchased_number():
    client = ListingClient([route('+19499800001', 'agent_1'), route('+19499800004', 'agent_1'), route('+19499800002', 'agent_2')])
    routes = RouteBook.read(client, numbers=['+19499800004', '+19499800001'], target='agent_1')

    assert client.purchased_pages == 0
    assert routes.not_purchased(['+19499800001', '+19499800004']).problems == []


def test_a_number_routed_to_another_agent_is_looked_for_and_named_when_no_longer_purchased():
    # +19499800009 still routes to agent_2 although the workspace no longer has it (released, its route left behind): a
    # map to agent_1 would be refused half-way through the task, so the route is no proof and the number is named first.
    client = ListingClient([route('+19499800009', 'agent_2'), route('+19499800001', 'agent_1')])
    routes = RouteBook.read(client, numbers=['+19499800001', '+19499800009'], target='agent_1')

    assert client.purchased_pages == 2
    assert routes.not_purchased(['+19499800001', '+19499800009']).facts == {'numbers': ['+19499800009']}


def test_without_a_target_every_listed_number_is_looked_for_whatever_its_route():
    # No agent yet to route to, or the numbers are to be unmapped: a write may follow for any of them.
    client = ListingClient([route('+19499800001', 'agent_1')])
    routes = RouteBook.read(client, numbers=['+19499800001'])

    assert client.purchased_pages == 1 and routes.purchased == {'+19499800001'}


def test_the_purchased_numbers_are_walked_until_the_last_unrouted_listed_number_is_found():
    client = ListingClient([route('+19499800004', 'agent_1')])
    routes = RouteBook.read(client, numbers=['+19499800004', '+19499800003'], target='agent_1')

    # +19499800003 has no route: it is on the second page of two, and the walk stops there.
    assert client.purchased_pages == 2
    assert routes.not_purchased(['+19499800004', '+19499800003']).problems == []


def test_a_listed_number_not_purchased_walks_to_the_end_and_is_named():
    client = ListingClient()
    routes = RouteBook.read(client, numbers=['+19499800001', '+15550000000'])

    assert client.purchased_pages == 2
    assert routes.not_purchased(['+19499800001', '+15550000000']).facts == {'numbers': ['+15550000000']}


def test_assumed_numbers_count_as_purchased_without_walking_the_list_to_its_end():
    client = ListingClient()
    # In check mode, +15550000000 is one an earlier task would buy: it is not looked for, so the walk stops on page one.
    routes = RouteBook.read(client, numbers=['+19499800001', '+15550000000'], assumed=['+15550000000'])

    assert client.purchased_pages == 1
    assert routes.purchased == {'+19499800001', '+15550000000'}
    assert routes.not_purchased(['+19499800001', '+15550000000']).problems == []


def test_without_the_routes_list_every_listed_number_is_looked_for_among_the_purchased():
    missing = MissingCallError(MissingCall(LIST_ROUTES, 'the API answered 404 not_found to it'))
    client = ListingClient(routes_missing=missing)
    routes = RouteBook.read(client, numbers=['+19499800003'])

    assert not routes.known and routes.unknown_because is missing
    assert client.purchased_pages == 2 and routes.purchased == {'+19499800003'}


def test_a_book_read_without_numbers_reads_no_purchased_number_and_an_agents_book_only_its_routes():
    client = ListingClient([route('+19499800001', 'agent_1'), route('+19499800002', 'agent_2')])

    assert RouteBook.read(client).purchased is None and client.purchased_pages == 0
    assert list(RouteBook.read(client, agent_id='agent_2').routes) == ['+19499800002']


# ---- routes ----

def test_present_maps_only_the_numbers_that_route_elsewhere_or_nowhere():
    plan = plan_routes_present(None, book(route('+19499800001', 'agent_1'), route('+19499800002', 'agent_2')),
                               ['+19499800001', '+19499800002', '+19499800003'], 'agent_1', exclusive=False)

    assert [operation.summary() for operation in plan.operations] == [
        ('map', '+19499800002', route('+19499800002', 'agent_2'), route('+19499800002', 'agent_1')),
        ('map', '+19499800003', None, route('+19499800003', 'agent_1')),
    ]


def test_exclusive_also_unmaps_the_agents_numbers_that_are_not_listed():
    plan = plan_routes_present(None, book(route('+19499800001', 'agent_1'), route('+19499800004', 'agent_1'), route('+19499800003', 'agent_2')),
                               ['+19499800001'], 'agent_1', exclusive=True)

    assert summaries(plan) == [('unmap', '+19499800004')]


def test_routes_to_an_agent_the_plan_creates_map_every_number_and_unmap_none():
    new_agent = Pending('(new agent)')
    plan = plan_routes_present(None, book(route('+19499800001', 'agent_2')), ['+19499800001', '+19499800002'], new_agent, exclusive=True)

    assert summaries(plan) == [('map', '+19499800001'), ('map', '+19499800002')]
    assert all(operation.after['agent_id'] is new_agent for operation in plan.operations)
    assert plan.operations[0].summary()[3]['agent_id'] == '(new agent)'


def test_absent_removes_routes_that_exist_and_with_an_agent_only_its_own():
    routes = book(route('+19499800001', 'agent_1'), route('+19499800002', 'agent_2'))
    numbers = ['+19499800001', '+19499800002', '+19499800003']

    assert summaries(plan_routes_absent(None, routes, numbers)) == [('unmap', '+19499800001'), ('unmap', '+19499800002')]
    assert summaries(plan_routes_absent(None, routes, numbers, 'agent_2')) == [('unmap', '+19499800002')]


def test_a_map_settles_as_applied_only_when_the_number_routes_to_the_agent():
    client = FakeClient(routes=[route('+19499800001', 'agent_1'), route('+19499800002', 'agent_2')])

    assert settle_map(client, '+19499800001', 'agent_1').applied
    assert not settle_map(client, '+19499800002', 'agent_1').applied
    assert not settle_map(client, '+19499800003', 'agent_1').applied


def test_a_plan_with_more_route_changes_than_allowed_is_refused_naming_them():
    plan = plan_routes_present(None, book(route('+19499800004', 'agent_1')), ['+19499800001', '+19499800002'], 'agent_1', exclusive=True)

    problems = guard_problems(plan, {'+19499800001', '+19499800002'}, max_changes=2)

    assert problems == ['the task would make 3 route change(s), more than max_route_changes=2: map +19499800001, map +19499800002, '
                        'unmap +19499800004. Nothing was changed: check the numbers, or raise max_route_changes for a change this big']
    assert guard_problems(plan, set(), max_changes=3) == []
    assert guard_problems(plan, set(), max_changes=-1) == [], 'a negative cap is refused once, by the check of the option'


def check_mode_operations(plan):
    """The `operations` a module returns for a plan in check mode."""
    return report(planned_outcomes(plan))[0]


def test_a_run_counts_route_changes_as_each_task_does_and_is_refused_over_its_cap_naming_every_environment():
    dev = plan_routes_present(None, book(route('+19499800004', 'agent_1')), ['+19499800001', '+19499800002'], 'agent_1', exclusive=True)
    prod = plan_routes_present(None, book(route('+19499800003', 'agent_1')), ['+19499800003'], 'agent_2', exclusive=True)
    created, unused = plan_agent_present(None, None, 'staging-support-agent', 'en-US', lambda token: None)
    planned = {'prod': check_mode_operations(prod), 'dev': check_mode_operations(dev), 'staging': check_mode_operations(created)}

    assert run_route_changes_problem(planned, 4) is None
    assert run_route_changes_problem(planned, 3, 'support_agent_max_route_changes_per_run') == (
        'the run would make 4 route change(s) in 2 environment(s), more than support_agent_max_route_changes_per_run=3: '
        'dev 3 (map +19499800001, map +19499800002, unmap +19499800004); prod 1 (map +19499800003). Nothing was changed in any '
        'environment: check the numbers, or raise support_agent_max_route_changes_per_run for a change this big')
    # The per-task guard counts the same changes: dev alone is over 2 for both.
    assert guard_problems(dev, set(), max_changes=2) and run_route_changes_problem({'dev': check_mode_operations(dev)}, 2)


def test_a_run_over_its_cap_shows_ten_numbers_of_an_environment_and_counts_the_rest():
    numbers = ['+194998000%02d' % number for number in range(1, 13)]
    plan = plan_routes_present(None, book(), numbers, 'agent_1', exclusive=True)

    problem = run_route_changes_problem({'prod': check_mode_operations(plan), 'dev': [], 'staging': None}, 0)

    assert problem.startswith('the run would make 12 route change(s) in 1 environment(s), more than max_route_changes_per_run=0: prod 12 (')
    assert 'map +19499800010 and 2 more). Nothing was changed in any environment' in problem


def test_a_protected_number_moves_only_when_the_task_lists_it_and_allows_it():
    routes = book(route('+19499800001', 'agent_2'), route('+19499800004', 'agent_1'))
    plan = plan_routes_present(None, routes, ['+19499800001', '+19499800003'], 'agent_1', exclusive=True)
    protected = ['+19499800001', '+19499800003', '+19499800004']

    refused = guard_problems(plan, {'+19499800001', '+19499800003'}, protected=protected)
    assert len(refused) == 1
    assert refused[0].startswith('the task would re-route or unroute protected number(s): +19499800001 (map), +19499800004 (unmap).')
    allowed_listed = guard_problems(plan, {'+19499800001', '+19499800003'}, protected=protected, allow_protected=True)
    assert allowed_listed[0].startswith('the task would re-route or unroute protected number(s): +19499800004 (unmap).'), \
        'an unlisted protected number stays protected even with the override'
    assert guard_problems(plan, {'+19499800001', '+19499800003', '+19499800004'}, protected=protected, allow_protected=True) == []


# ---- agents ----

def test_a_missing_agent_is_created_with_its_id_known_only_after_apply():
    plan, agent_id = plan_agent_present(None, None, 'prod-support-agent', None, keep_token=None)

    assert isinstance(agent_id, Pending)
    assert [operation.summary() for operation in plan.operations] == [
        ('create', 'prod-support-agent', None,
         {'id': '(new agent)', 'name': 'prod-support-agent', 'language': 'en-US', 'status': '(new agent)'}),
    ]


@pytest.mark.parametrize('name,language,changes', [
    ('prod-support-agent', 'en-IN', None),
    ('prod-support-agent', None, None),
    (None, 'hi-IN', {'language': 'hi-IN'}),
    ('prod-billing-agent', 'en-IN', {'name': 'prod-billing-agent'}),
])
def test_an_existing_agent_is_updated_with_only_the_fields_that_differ(name, language, changes):
    plan, agent_id = plan_agent_present(None, dict(AGENT), name, language, keep_token=None)

    assert agent_id == 'agent_1'
    if changes is None:
        assert plan.operations == []
    else:
        assert [operation.summary() for operation in plan.operations] == [('update', 'prod-support-agent', AGENT, dict(AGENT, **changes))]


def test_deleting_an_agent_with_routes_is_refused_before_any_write_naming_the_numbers():
    plan = plan_agent_absent(None, dict(AGENT), ['+19499800001', '+19499800002'])

    assert plan.operations == []
    assert plan.problems == ["agent 'prod-support-agent' (agent_1) still has 2 number(s) routed to it: +19499800001, +19499800002. "
                             'Nothing was deleted: unmap them first, with piopiy.voice.piopiy_number_route state=absent or '
                             'piopiy_agent phone_numbers=[]']
    assert plan.facts == {'numbers': ['+19499800001', '+19499800002']}
    assert summaries(plan_agent_absent(None, dict(AGENT), [])) == [('delete', 'prod-support-agent')]
    assert plan_agent_absent(None, None, []).operations == []


def test_an_ambiguous_name_names_the_option_that_chooses_and_one_agent_listed_twice_is_not_ambiguous():
    twin = dict(AGENT, id='agent_3')
    assert find_by_name(FakeClient(), 'prod-support-agent', 'agent_id', agents=[AGENT, twin]).problem == (
        "2 agents are named 'prod-support-agent' (ids: agent_1, agent_3): set agent_id to choose one")
    lookup = find_by_name(FakeClient(), 'prod-support-agent', 'id', agents=[AGENT, dict(AGENT)])
    assert lookup.problem is None and lookup.agent == AGENT


def test_a_list_item_without_its_language_is_completed_by_one_read():
    client = FakeClient(agents=[AGENT])
    listed = {'id': 'agent_1', 'name': 'prod-support-agent', 'status': 'active'}

    assert find_by_name(client, 'prod-support-agent', 'id', agents=[listed]).agent == AGENT
    assert client.reads == ['get_agent']


def test_a_rename_onto_another_agents_name_is_a_problem():
    assert rename_problem([AGENT, OTHER], AGENT, 'dev-support-agent').startswith(
        "name 'dev-support-agent' is already used by agent agent_2: renaming prod-support-agent (agent_1) to it")
    assert rename_problem([AGENT, OTHER], AGENT, 'prod-billing-agent') is None


def test_an_ambiguous_create_settles_by_name():
    assert not settle_create(FakeClient(agents=[OTHER]), 'prod-support-agent').applied
    settled = settle_create(FakeClient(agents=[AGENT]), 'prod-support-agent')
    assert settled.applied and settled.resource['id'] == 'agent_1'
    undecided = settle_create(FakeClient(agents=[AGENT, dict(AGENT, id='agent_3')]), 'prod-support-agent')
    assert not undecided.applied and 'agent_1, agent_3' in undecided.conflict and 'id=<id>' in undecided.conflict


class CreatingClient:
    """Answers a create as given; records every write, so a test sees exactly what was sent."""

    def __init__(self, answer):
        self.answer = answer
        self.writes = []

    def create_agent(self, name, language, settle=None):
        self.writes.append(('create', name, language))
        return dict(self.answer)

    def set_route(self, number, agent_id, settle=None):
        self.writes.append(('map', number, agent_id))
        return {}


def test_a_created_agents_token_goes_to_its_keeper_and_never_into_the_result():
    client = CreatingClient({'id': 'agent_9', 'name': 'x', 'status': 'active', 'agent_token': 'agt_live_secret'})
    tokens = []
    plan, agent_id = plan_agent_present(client, None, 'x', 'hi-IN', tokens.append)
    plan.extend(plan_routes_present(client, book(), ['+19499800001'], agent_id, exclusive=True, stage=1))

    create, mapping = WriteDoor().apply(plan)

    assert tokens == ['agt_live_secret']
    assert create.resource == {'id': 'agent_9', 'name': 'x', 'language': 'hi-IN', 'status': 'active'}
    assert mapping.resource['agent_id'] == 'agent_9'
    assert client.writes == [('create', 'x', 'hi-IN'), ('map', '+19499800001', 'agent_9')]
