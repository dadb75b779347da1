# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The plans on the published calls alone (issue 22): unknown routes, unknown languages, missing update and route calls. No HTTP."""

from __future__ import annotations

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    DELETE_ROUTE,
    GET_AGENT,
    LIST_ROUTES,
    UNPUBLISHED_CALLS,
    UPDATE_AGENT,
    MissingCallError,
    PiopiyAPIError,
)
from ansible_collections.piopiy.voice.plugins.module_utils.client_capabilities import Capabilities, MissingCall
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import (
    UNCERTAIN,
    Pending,
    WriteDoor,
    planned_outcomes,
    report,
    uncertain_records,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import (
    complete,
    find_by_id,
    language_unknown_warning,
    plan_agent_absent,
    plan_agent_present,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import RotationState, missing_calls_problem
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import (
    ROUTE_UNKNOWN,
    RouteBook,
    guard_problems,
    plan_routes_absent,
    plan_routes_present,
    routes_unknown_warning,
    settle_map,
)

AGENT = {'id': 'agent_1', 'name': 'prod-support-agent', 'language': 'en-IN', 'status': 'active'}
LISTED = {'id': 'agent_1', 'name': 'prod-support-agent', 'status': 'active'}  # a list item without its language
NUMBERS = ['+19499800001', '+19499800002']
ROUTES_MISSING = MissingCallError(MissingCall(LIST_ROUTES, 'the API answered 404 not_found to it'))


class PublishedClient:
    """The published calls only: every unpublished one raises MissingCallError, as the client does once it knows."""

    def __init__(self, profile='published', agents=(AGENT,), delete_status=None):
        self.capabilities = Capabilities(profile, UNPUBLISHED_CALLS)
        self.agents = list(agents)
        self.delete_status = delete_status
        self.sent = []

    def _missing(self, call):
        known = self.capabilities.lacks(call)
        if known:
            raise MissingCallError(known)

    def list_agents(self):
        return list(self.agents)

    def get_agent(self, agent_id):
        self._missing(GET_AGENT)
        return next((agent for agent in self.agents if agent['id'] == agent_id), None)

    def get_route(self, number):
        self._missing('GET /phone-number-routing/{phone_number}')
        return None

    def set_route(self, number, agent_id, settle=None):
        self.sent.append(('POST', number, agent_id))
        return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}

    def delete_agent(self, agent_id):
        self.sent.append(('DELETE', agent_id))
        if self.delete_status:
            raise PiopiyAPIError('DELETE', '/ai-agents/' + agent_id, status=self.delete_status, code='conflict', message='still routed')
        return {'id': agent_id, 'status': 'deleted'}


def unknown_book():
    return RouteBook([], set(NUMBERS), unknown_because=ROUTES_MISSING)


def test_an_unknown_book_reports_every_route_as_unknown_and_no_number_as_routed():
    routes = unknown_book()
    assert not routes.known
    assert routes.route(NUMBERS[0]) == {'phone_number': NUMBERS[0], 'route_type': None, 'agent_id': None, 'status': ROUTE_UNKNOWN}
    assert routes.agent_of(NUMBERS[0]) is None and routes.routed_to('agent_1') == []
    assert 'GET /phone-number-routing' in routes_unknown_warning(routes) and 'api_base' not in routes_unknown_warning(routes)


def test_unknown_routes_map_every_number_and_a_map_to_an_existing_agent_is_uncertain():
    client = PublishedClient()
    plan = plan_routes_present(client, unknown_book(), NUMBERS, 'agent_1', exclusive=False)
    assert plan.problems == []
    assert [(operation.action, operation.key, operation.uncertain) for operation in plan.operations] == [
        ('map', NUMBERS[0], True), ('map', NUMBERS[1], True)]
    outcomes = planned_outcomes(plan)
    assert [outcome.status for outcome in outcomes] == [UNCERTAIN, UNCERTAIN]
    records, failures, changed = report(outcomes)
    assert (records, failures, changed) == ([], [], False)  # check mode: neither a change nor no change
    assert [record['phone_number'] for record in uncertain_records(outcomes)] == NUMBERS
    assert [record['before']['status'] for record in uncertain_records(outcomes)] == [ROUTE_UNKNOWN] * 2
    # a real run sends every POST and reports what it sent as changed
    applied = WriteDoor().apply(plan)
    assert client.sent == [('POST', NUMBERS[0], 'agent_1'), ('POST', NUMBERS[1], 'agent_1')]
    assert report(applied)[2] is True and uncertain_records(applied) == []


def test_the_numbers_of_a_new_agent_are_certain_changes_even_when_routes_are_unknown():
    plan = plan_routes_present(PublishedClient(), unknown_book(), NUMBERS, Pending('(new agent)'), exclusive=True)
    assert plan.problems == []  # a new agent has no other numbers to unmap
    assert [operation.uncertain for operation in plan.operations] == [False, False]


def test_exclusive_on_unknown_routes_fails_before_any_write_naming_the_calls():
    plan = plan_routes_present(PublishedClient(), unknown_book(), NUMBERS, 'agent_1', exclusive=True)
    assert len(plan.problems) == 1
    assert plan.problems[0].startswith('exclusive=true')
    assert LIST_ROUTES in plan.problems[0] and DELETE_ROUTE in plan.problems[0] and 'Nothing was changed' in plan.problems[0]
    assert 'api_base' not in plan.problems[0]


def test_unmapping_on_unknown_routes_fails_before_any_write_naming_the_calls():
    plan = plan_routes_absent(PublishedClient(), unknown_book(), NUMBERS)
    assert plan.operations == [] and len(plan.problems) == 1
    assert 'unmapping' in plan.problems[0] and DELETE_ROUTE in plan.problems[0] and 'dashboard' in plan.problems[0]


def test_a_protected_number_with_an_unknown_route_may_be_re_routed_so_it_is_guarded():
    plan = plan_routes_present(PublishedClient(), unknown_book(), NUMBERS, 'agent_1', exclusive=False)
    assert guard_problems(plan, set(), protected={NUMBERS[0]}) != []


def test_settling_a_lost_map_without_route_reads_sends_it_again():
    assert not settle_map(PublishedClient(), NUMBERS[0], 'agent_1').applied  # the POST replaces any route: a resend is safe


def test_an_unknown_language_is_never_compared_nor_changed_and_the_task_says_so():
    client = PublishedClient()
    current = complete(client, LISTED)
    assert current == dict(LISTED, language=None)
    plan, agent_id = plan_agent_present(client, current, 'prod-support-agent', 'hi-IN', keep_token=None,
                                        update_missing=client.capabilities.lacks(UPDATE_AGENT))
    assert (plan.operations, plan.problems, agent_id) == ([], [], 'agent_1')
    warning = language_unknown_warning(client, current, 'hi-IN')
    assert 'unknown' in warning and GET_AGENT in warning
    assert language_unknown_warning(client, current, None) is None
    assert language_unknown_warning(client, AGENT, 'hi-IN') is None


def test_a_matching_language_is_no_change_and_a_different_one_fails_before_any_write_without_the_update_call():
    missing = Capabilities('published', UNPUBLISHED_CALLS).lacks(UPDATE_AGENT)
    plan, _agent_id = plan_agent_present(None, dict(AGENT), 'prod-support-agent', 'en-IN', keep_token=None, update_missing=missing)
    assert (plan.operations, plan.problems) == ([], [])
    plan, _agent_id = plan_agent_present(None, dict(AGENT), 'prod-support-agent', 'hi-IN', keep_token=None, update_missing=missing)
    assert plan.operations == [] and len(plan.problems) == 1
    assert UPDATE_AGENT in plan.problems[0] and "language from 'en-IN' to 'hi-IN'" in plan.problems[0]
    assert 'Nothing was changed' in plan.problems[0] and 'dashboard' in plan.problems[0]


def test_find_by_id_without_the_read_call_finds_the_agent_in_the_list():
    client = PublishedClient(agents=[LISTED])
    assert find_by_id(client, 'agent_1').agent == dict(LISTED, language=None)
    assert find_by_id(client, 'agent_9').agent is None


@pytest.mark.parametrize('status, says', [(409, 'numbers still route to it'), (404, 'still routed')])
def test_a_delete_without_route_reads_is_sent_and_a_409_says_what_to_do(status, says):
    client = PublishedClient(delete_status=status)
    plan = plan_agent_absent(client, dict(AGENT), [], routes_known=False)
    assert plan.problems == []
    outcome, = WriteDoor().apply(plan)
    assert client.sent == [('DELETE', 'agent_1')] and not outcome.applied
    assert says in str(outcome.error)
    if status == 409:
        assert 'cannot remove a route' in str(outcome.error) and 'dashboard' in str(outcome.error)
        assert DELETE_ROUTE in str(outcome.error) and 'api_base' not in str(outcome.error)


def rotation_of(canonical='agent', successor=None):
    canonical = dict(AGENT) if canonical == 'agent' else canonical
    return RotationState(canonical, successor, None if successor is None else canonical and canonical['id'])


def test_a_rotation_prepares_on_the_published_calls_when_the_language_is_known():
    capabilities = Capabilities('published', UNPUBLISHED_CALLS)
    assert missing_calls_problem(capabilities, rotation_of(), None, prepares=True, finishes=False) is None
    problem = missing_calls_problem(capabilities, rotation_of(dict(AGENT, language=None)), None, prepares=True, finishes=False)
    assert GET_AGENT in problem and 'Nothing was changed' in problem


def test_finishing_a_rotation_needs_the_routes_and_the_rename_and_says_so_before_any_write():
    capabilities = Capabilities('published', UNPUBLISHED_CALLS)
    successor = {'id': 'agent_2', 'name': 'prod-support-agent--rotating-agent_1', 'language': 'en-IN', 'status': 'active'}
    problem = missing_calls_problem(capabilities, rotation_of(successor=successor), unknown_book(), prepares=False, finishes=True)
    assert LIST_ROUTES in problem and UPDATE_AGENT in problem and 'rotate by hand' in problem
    gone = missing_calls_problem(capabilities, rotation_of(canonical=None, successor=successor), unknown_book(), prepares=False,
                                 finishes=True)
    assert LIST_ROUTES not in gone and UPDATE_AGENT in gone and 'rename agent %s' % successor['name'] in gone
    assert missing_calls_problem(Capabilities('extended', UNPUBLISHED_CALLS), rotation_of(successor=successor),
                                 RouteBook([], set()), prepares=True, finishes=True) is None
