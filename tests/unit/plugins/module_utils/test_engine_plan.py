# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine on its own: pending values, the write door's stages and outcomes, and what a result reports. No HTTP."""

from __future__ import annotations

import threading

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import AmbiguousWriteError, PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import (
    APPLIED,
    FAILED,
    NOT_SENT,
    UNKNOWN,
    Operation,
    Pending,
    Plan,
    WriteDoor,
    failure_message,
    first_api_error,
    planned_outcomes,
    problems_message,
    rendered,
    report,
)


def route(number, agent_id):
    return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}


def recorder(sent, answer=None, error=None):
    """A send function that notes what it was given and answers, or raises."""
    def send(after):
        sent.append(after)
        if error is not None:
            raise error
        return answer(after) if callable(answer) else answer
    return send


def test_a_pending_value_shows_its_label_until_known_then_its_value():
    pending = Pending('(new agent)')
    value = {'agent_id': pending, 'numbers': [pending]}

    assert rendered(value) == {'agent_id': '(new agent)', 'numbers': ['(new agent)']}
    pending.resolve('agent_1')
    assert rendered(value) == {'agent_id': 'agent_1', 'numbers': ['agent_1']}


def test_an_empty_answer_does_not_resolve_a_pending_value():
    pending = Pending('(new agent)')
    pending.resolve(None)
    assert not pending.known and rendered(pending) == '(new agent)'


def test_stages_run_in_order_and_a_dependent_write_gets_the_id_the_first_made():
    agent_id = Pending('(new agent)')
    sent = []
    create = Operation('create', 'agent', 'support', None, {'id': agent_id, 'name': 'support'},
                       recorder(sent, lambda after: dict(after, id='agent_7')), produces={'id': agent_id})
    maps = [Operation('map', 'route', number, None, route(number, agent_id), recorder(sent, lambda after: after), stage=1)
            for number in ('+19499800001', '+19499800002')]

    outcomes = WriteDoor(workers=4).apply(Plan(maps + [create]))

    assert sent[0] == {'id': None, 'name': 'support'}, 'a value the create produces is never sent as its label'
    assert sorted(after['agent_id'] for after in sent[1:]) == ['agent_7', 'agent_7']
    assert [outcome.status for outcome in outcomes] == [APPLIED] * 3
    assert [outcome.operation.action for outcome in outcomes] == ['create', 'map', 'map']


def test_a_write_that_depends_on_a_failed_create_is_never_sent():
    agent_id = Pending('(new agent)')
    sent = []
    create = Operation('create', 'agent', 'support', None, {'id': agent_id, 'name': 'support'},
                       recorder(sent, error=PiopiyAPIError('POST', '/ai-agents', status=403)), produces={'id': agent_id})
    mapping = Operation('map', 'route', '+19499800001', None, route('+19499800001', agent_id), recorder(sent, {}), stage=1)

    create_outcome, map_outcome = WriteDoor().apply(Plan([create, mapping]))

    assert create_outcome.status == FAILED
    assert map_outcome.status == NOT_SENT and '(new agent)' in map_outcome.error
    assert len(sent) == 1, 'no write may name a missing id'


def test_on_confirmed_gets_the_confirmed_resource_before_any_dependent_is_sent():
    agent_id = Pending('(new agent)')
    sent, seen = [], []
    create = Operation('create', 'agent', 'support', None, {'id': agent_id, 'name': 'support'},
                       recorder(sent, lambda after: dict(after, id='agent_7')), produces={'id': agent_id},
                       on_confirmed=lambda resource: seen.append((dict(resource), len(sent))))
    mapping = Operation('map', 'route', '+19499800001', None, route('+19499800001', agent_id), recorder(sent, lambda after: after), stage=1)

    outcomes = WriteDoor().apply(Plan([create, mapping]))

    assert seen == [({'id': 'agent_7', 'name': 'support'}, 1)], 'called once, with the confirmed agent, before the map was sent'
    assert [outcome.status for outcome in outcomes] == [APPLIED, APPLIED]


def test_an_api_error_of_on_confirmed_fails_the_operation_and_nothing_that_needs_it_is_sent():
    agent_id = Pending('(new agent)')
    sent = []

    def refuse(resource):
        raise PiopiyAPIError('POST', '/ai-agents', hint='its token could not be stored')
    create = Operation('create', 'agent', 'support', None, {'id': agent_id, 'name': 'support'},
                       recorder(sent, lambda after: dict(after, id='agent_7')), produces={'id': agent_id}, on_confirmed=refuse)
    mapping = Operation('map', 'route', '+19499800001', None, route('+19499800001', agent_id), recorder(sent, {}), stage=1)

    create_outcome, map_outcome = WriteDoor().apply(Plan([create, mapping]))

    assert create_outcome.status == FAILED and 'could not be stored' in str(create_outcome.error)
    assert map_outcome.status == NOT_SENT and len(sent) == 1
    # The API made the agent: it is one of the task's changes, recorded as the API confirmed it, and a failure too.
    records, failures, changed = report([create_outcome, map_outcome])
    assert changed and [(record['op'], record['id']) for record in records] == [('create', 'agent_7')]
    assert failures == [create_outcome, map_outcome]
    assert failure_message([create_outcome, map_outcome], failures).startswith(
        '2 of 2 change(s) failed (0 applied), 1 of them applied by the API though what had to follow failed: create support: ')


def test_a_create_answered_without_an_id_blocks_its_dependents():
    agent_id = Pending('(new agent)')
    create = Operation('create', 'agent', 'support', None, {'id': agent_id}, recorder([], {'name': 'support'}), produces={'id': agent_id})
    mapping = Operation('map', 'route', '+19499800001', None, route('+19499800001', agent_id), recorder([], {}), stage=1)

    outcomes = WriteDoor().apply(Plan([create, mapping]))

    assert [outcome.status for outcome in outcomes] == [APPLIED, NOT_SENT]


def test_ambiguous_and_refused_writes_are_told_apart_and_only_confirmed_ones_change_anything():
    ambiguous = Operation('map', 'route', '+19499800001', None, route('+19499800001', 'a'),
                          recorder([], error=AmbiguousWriteError('POST', '/phone-number-routing', message='connection lost')))
    refused = Operation('map', 'route', '+19499800002', None, route('+19499800002', 'a'),
                        recorder([], error=PiopiyAPIError('POST', '/phone-number-routing', status=404, code='not_found',
                                                          request_id='req_1')))
    applied = Operation('unmap', 'route', '+19499800003', route('+19499800003', 'a'), None, recorder([], None))

    outcomes = WriteDoor(workers=2).apply(Plan([ambiguous, refused, applied]))
    records, failures, changed = report(outcomes)

    assert [outcome.status for outcome in outcomes] == [UNKNOWN, FAILED, APPLIED]
    assert changed is True
    assert records == [{'op': 'unmap', 'resource': 'route', 'phone_number': '+19499800003', 'agent_id': 'a',
                        'before': route('+19499800003', 'a'), 'after': None}]
    message = failure_message(outcomes, failures)
    assert message.startswith('2 of 3 change(s) failed (1 applied), 1 of them with an outcome the API did not confirm')
    assert 'map +19499800001: ' in message and 'map +19499800002: ' in message
    assert first_api_error(failures) == {'status': None, 'error_code': None, 'request_id': None}
    assert first_api_error(failures[1:]) == {'status': 404, 'error_code': 'not_found', 'request_id': 'req_1'}


def test_nothing_applied_is_not_a_change():
    refused = Operation('map', 'route', '+19499800001', None, route('+19499800001', 'a'),
                        recorder([], error=PiopiyAPIError('POST', '/phone-number-routing', status=403)))
    assert report(WriteDoor().apply(Plan([refused])))[2] is False


def test_check_mode_reports_the_plan_as_if_applied_with_labels_for_unknown_values():
    agent_id = Pending('(new agent)')
    plan = Plan([Operation('map', 'route', '+19499800001', None, route('+19499800001', agent_id), None)])

    records, failures, changed = report(planned_outcomes(plan))

    assert changed and not failures
    assert records[0]['agent_id'] == '(new agent)' and records[0]['after']['agent_id'] == '(new agent)'


def test_the_door_never_runs_more_writes_at_once_than_its_workers():
    lock, running, peak = threading.Lock(), [0], [0]
    gate = threading.Barrier(3, timeout=5)

    def send(after):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            gate.wait()
        except threading.BrokenBarrierError:
            pass
        with lock:
            running[0] -= 1
        return after

    operations = [Operation('map', 'route', str(index), None, route(str(index), 'a'), send) for index in range(9)]
    outcomes = WriteDoor(workers=3).apply(Plan(operations))

    assert peak[0] == 3
    assert all(outcome.applied for outcome in outcomes)


def test_one_problem_is_the_message_and_several_are_numbered():
    assert problems_message(['name must not be empty']) == 'name must not be empty'
    assert problems_message(['a', 'b']) == '2 problems, nothing was changed: (1) a (2) b'
