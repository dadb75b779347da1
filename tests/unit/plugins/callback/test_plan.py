# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The plan callback: rows from operations, the two report files, and the drift exit status."""

from __future__ import annotations

import json
import sys

import pytest

from ansible.plugins.loader import callback_loader

from ansible_collections.piopiy.voice.plugins.callback import plan as plan_plugin
from ansible_collections.piopiy.voice.plugins.callback.plan import (
    DRIFT_EXIT_STATUS, GATE_EXIT_STATUS, Plan, exit_status, exit_with_gate_status, render_markdown, rows_as_text, rows_from_result, write_report)

DEV = {'id': 'agent_dev', 'name': 'dev-support-agent', 'language': 'en-US', 'status': 'active'}
STAGING = {'id': 'agent_stg', 'name': 'staging-support-agent', 'language': 'en-US', 'status': 'active'}
TOKEN = 'agt_live_0123456789abcdef0123456789abcdef'


def route(number, agent_id):
    return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}


def mapped(number, before_agent, after_agent):
    return {'op': 'map', 'resource': 'route', 'phone_number': number, 'agent_id': after_agent,
            'before': route(number, before_agent) if before_agent else None, 'after': route(number, after_agent)}


def unmapped(number, agent_id):
    return {'op': 'unmap', 'resource': 'route', 'phone_number': number, 'agent_id': agent_id, 'before': route(number, agent_id), 'after': None}


def test_a_move_names_both_agents_from_what_the_run_saw():
    result = {'changed': True, 'agent': dict(STAGING, phone_numbers=['+19499800002']),
              'operations': [mapped('+19499800002', 'agent_dev', 'agent_stg')]}
    (row,) = rows_from_result(result, {'agent_dev': 'dev-support-agent'})
    assert (row['agent'], row['phone_number'], row['before_text'], row['after_text'], row['action']) == (
        'staging-support-agent', '+19499800002', 'dev-support-agent', 'staging-support-agent', 'map')
    assert row['before'] == {'agent_id': 'agent_dev', 'agent': 'dev-support-agent'}


def test_check_mode_create_and_map_to_the_new_agent():
    new = {'id': None, 'name': 'qa-support-agent', 'language': 'hi-IN', 'status': None}
    result = {'changed': True, 'operations': [
        {'op': 'create', 'resource': 'agent', 'id': None, 'name': 'qa-support-agent', 'before': None, 'after': new},
        mapped('+19499800001', None, None)]}
    create, route_row = rows_from_result(result)
    assert (create['before_text'], create['after_text']) == ('(absent)', 'name qa-support-agent, language hi-IN')
    assert (route_row['agent'], route_row['before_text'], route_row['after_text']) == ('qa-support-agent', '(no route)', 'qa-support-agent')


def test_an_update_shows_only_what_changes_and_never_a_token():
    result = {'changed': True, 'agent_token': TOKEN, 'operations': [
        {'op': 'update', 'resource': 'agent', 'id': 'agent_dev', 'name': 'dev-support-agent',
         'before': dict(DEV, agent_token=TOKEN), 'after': dict(DEV, language='en-IN')}]}
    (row,) = rows_from_result(result)
    assert (row['before_text'], row['after_text']) == ('language en-US', 'language en-IN')
    assert TOKEN not in json.dumps(row)


def test_an_unmap_names_the_agent_it_leaves():
    (row,) = rows_from_result({'changed': True, 'operations': [unmapped('+19499800003', 'agent_dev')]}, {'agent_dev': 'dev-support-agent'})
    assert (row['agent'], row['before_text'], row['after_text'], row['after']) == ('dev-support-agent', 'dev-support-agent', '(no route)', None)


def sample_plan():
    plan = Plan()
    plan.add_result('staging', {'changed': True, 'agent': STAGING, 'operations': [
        mapped('+19499800002', 'agent_dev', 'agent_stg'), mapped('+19499800001', None, 'agent_stg')]}, 'Ensure staging')
    plan.add_result('dev', {'changed': True, 'agent': DEV, 'operations': [unmapped('+19499800002', 'agent_dev')]}, 'Ensure dev')
    plan.add_result('prod', {'changed': False, 'agent': dict(DEV, id='agent_prd', name='prod-support-agent'), 'operations': []}, 'Ensure prod')
    return plan


def test_the_plan_is_grouped_by_environment_and_sorted():
    data = sample_plan().as_data(check_mode=True)
    assert (data['schema_version'], data['mode'], data['status'], data['drift'], data['change_count']) == (2, 'check', 'drift', True, 3)
    assert [(item['environment'], item['changed'], [change['phone_number'] for change in item['changes']]) for item in data['environments']] == [
        ('dev', True, ['+19499800002']), ('prod', False, []), ('staging', True, ['+19499800001', '+19499800002'])]


def test_markdown_table_has_a_row_per_change_and_says_no_change():
    plan = sample_plan()
    text = render_markdown(plan.as_data(check_mode=True), rows_as_text(plan))
    assert '| environment | agent | number | before | after | action |' in text
    assert '| dev | dev-support-agent | +19499800002 | dev-support-agent | (no route) | unmap |' in text
    assert '| prod | | | | | no change |' in text
    assert '| staging | staging-support-agent | +19499800002 | dev-support-agent | staging-support-agent | map |' in text
    assert text.index('| dev |') < text.index('| prod |') < text.index('| staging |')


def test_an_environment_with_no_change_is_not_drift():
    plan = Plan()
    plan.add_result('prod', {'changed': False, 'operations': []}, 'Ensure prod')
    assert not plan.drift
    plan.add_result('prod', {'changed': True}, 'A change without operations still counts')
    assert plan.drift


def test_failed_environments_are_marked_incomplete():
    plan = sample_plan()
    plan.mark('prod', 'failed')
    text = render_markdown(plan.as_data(check_mode=True), rows_as_text(plan))
    assert '**Incomplete**: the run failed for prod (failed)' in text


def test_the_report_files_are_byte_stable_and_redacted(tmp_path):
    plan = sample_plan()
    plan.add_result('dev', {'changed': True, 'operations': [
        {'op': 'update', 'resource': 'agent', 'id': 'agent_dev', 'name': 'pk_test_acme_0001',
         'before': DEV, 'after': dict(DEV, name='pk_test_acme_0001')}]}, 'Rename')
    first = write_report(str(tmp_path / 'one'), plan, True, ['pk_test_acme_0001'])
    write_report(str(tmp_path / 'two'), plan, True, ['pk_test_acme_0001'])
    for name in ('plan.json', 'plan.md'):
        one, two = (tmp_path / folder / name for folder in ('one', 'two'))
        assert one.read_bytes() == two.read_bytes()
        assert b'pk_test_acme_0001' not in one.read_bytes()
    assert json.loads((tmp_path / 'one' / 'plan.json').read_text()) == first


@pytest.mark.parametrize('ansible_status, gate_status, expected', [
    (0, DRIFT_EXIT_STATUS, DRIFT_EXIT_STATUS), (None, DRIFT_EXIT_STATUS, DRIFT_EXIT_STATUS), (0, 0, 0), (0, 19, 19),
    (2, DRIFT_EXIT_STATUS, 2), (4, 18, 4), (6, DRIFT_EXIT_STATUS, 6), (250, 17, 250),
])
def test_only_a_success_becomes_the_gate_status(ansible_status, gate_status, expected):
    assert exit_status(ansible_status, gate_status) == expected


def test_the_gate_statuses_are_distinct_and_none_is_one_ansible_playbook_uses():
    assert GATE_EXIT_STATUS == {'no_drift': 0, 'drift': 16, 'unknown': 17, 'incomplete': 18, 'nothing_compared': 19}
    assert not set(GATE_EXIT_STATUS.values()) - {0} & (set(range(0, 16)) | {99, 250, 255})


def test_exit_hook_replaces_success_only_and_installs_once(monkeypatch):
    calls = []
    monkeypatch.setattr(sys, 'exit', calls.append)
    exit_with_gate_status(DRIFT_EXIT_STATUS)
    exit_with_gate_status(18)  # a later playbook's gate: one hook, its status the last one said
    # Through getattr, as ansible-playbook looks sys.exit up when it ends (and linters take it for a real exit).
    getattr(sys, 'exit')(0)
    getattr(sys, 'exit')(2)
    assert calls == [18, 2]
    assert plan_plugin.sys is sys


# ---- the gate never says "no drift" when it did not compare ----

def data_and_text(plan):
    data = plan.as_data(check_mode=True)
    return data, render_markdown(data, rows_as_text(plan))


def test_a_run_where_no_piopiy_task_ran_compared_nothing():
    data, text = data_and_text(Plan())
    assert (data['status'], data['drift'], data['environments']) == ('nothing_compared', None, [])
    assert '**Nothing was compared**' in text and 'This is not "no drift"' in text and 'matches' not in text


def test_an_environment_whose_task_failed_under_ignore_errors_is_failed_not_no_change():
    plan = Plan()
    plan.add_result('prod', {'changed': False, 'msg': 'API key rejected (401)'}, 'Ensure prod', failed=True)
    data, text = data_and_text(plan)
    assert (data['status'], data['drift']) == ('incomplete', None)
    assert data['environments'][0]['status'] == 'failed'
    assert 'No changes: every environment matches.' not in text and 'no change |' not in text
    assert '| prod | | | | | not compared (failed) |' in text and '**Incomplete**: the run failed for prod (failed)' in text


def test_a_failure_then_a_success_on_one_environment_stays_failed():
    plan = Plan()
    plan.add_result('prod', {'changed': False}, 'Check the agent', failed=True)
    plan.add_result('prod', {'changed': False, 'operations': []}, 'Check the routes')
    assert plan.as_data(check_mode=True)['environments'][0]['status'] == 'failed'


def test_drift_beside_a_failure_is_drift_true_but_the_run_incomplete():
    plan = sample_plan()
    plan.add_result('qa', {'changed': False}, 'Ensure qa', failed=True)
    data = plan.as_data(check_mode=True)
    assert (data['status'], data['drift']) == ('incomplete', True)


def test_a_hidden_change_is_shown_without_its_values():
    plan = Plan()
    censored = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
    plan.add_result('dev', {'changed': True, 'censored': censored}, 'Rotate quietly')
    data, text = data_and_text(plan)
    assert (data['status'], data['drift'], data['change_count'], data['hidden_change_count']) == ('drift', True, 0, 1)
    assert '1 change(s) (1 hidden by no_log) in 1 environment(s): dev.' in text
    assert '| dev | (hidden by no_log) | | | | change (hidden) |' in text and '0 change(s)' not in text


@pytest.mark.parametrize('unknown, said', [
    (True, '(not said)'),
    (['+19499800001: the route cannot be read with this key'], '+19499800001: the route cannot be read with this key'),
    ([{'phone_number': '+19499800001', 'reason': 'routing not published'}], '+19499800001: routing not published'),
], ids=['true', 'texts', 'objects'])
def test_unknown_is_neither_drift_nor_no_change(unknown, said):
    plan = Plan()
    plan.add_result('dev', {'changed': False, 'operations': [], 'unknown': unknown}, 'Ensure dev')
    plan.add_result('prod', {'changed': False, 'operations': []}, 'Ensure prod')
    data, text = data_and_text(plan)
    assert (data['status'], data['drift']) == ('unknown', None)
    assert [environment['status'] for environment in data['environments']] == ['unknown', 'ok']
    assert data['environments'][0]['unknown'] == [said]
    assert '| dev | | | | | unknown: %s |' % said in text and '| prod | | | | | no change |' in text
    assert '**Unknown**: could not compare dev (%s)' % said in text and 'every environment matches' not in text


def test_unknown_beside_drift_is_drift():
    plan = sample_plan()
    plan.add_result('qa', {'changed': False, 'unknown': True}, 'Ensure qa')
    assert plan.as_data(check_mode=True)['status'] == 'drift'


def test_every_environment_compared_and_matching_is_the_only_no_drift():
    plan = Plan()
    plan.add_result('prod', {'changed': False, 'operations': []}, 'Ensure prod')
    data, text = data_and_text(plan)
    assert (data['status'], data['drift']) == ('no_drift', False)
    assert 'No changes: every environment matches.' in text


class Stub:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def task_result(data, host='dev', check_mode=False):
    """What the plugin reads of Ansible's CallbackTaskResult."""
    return Stub(task=Stub(resolved_action='piopiy.voice.piopiy_agent'), result=data, host=Stub(get_name=lambda: host),
                task_name='Ensure the agent', task_fields={'check_mode': check_mode})


@pytest.mark.parametrize('run_in_check_mode, hosts', [(False, ['staging']), (True, ['dev', 'staging'])])
def test_a_task_in_check_mode_of_a_real_run_is_a_prediction_not_a_change(monkeypatch, run_in_check_mode, hosts):
    monkeypatch.setattr(plan_plugin.CallbackModule, 'check_mode', property(lambda self: run_in_check_mode))
    plugin = plan_plugin.CallbackModule()
    plugin.v2_runner_on_ok(task_result({'changed': True, 'operations': [mapped('+19499800001', None, 'agent_dev')]}, check_mode=True))
    plugin.v2_runner_on_ok(task_result({'changed': True, 'operations': [mapped('+19499800002', None, 'agent_stg')]}, host='staging',
                                       check_mode=run_in_check_mode))
    assert sorted(plugin.plan.rows) == hosts


def test_a_failure_that_ignore_errors_absorbed_marks_the_environment_failed(monkeypatch):
    monkeypatch.setattr(plan_plugin.CallbackModule, 'check_mode', property(lambda self: True))
    plugin = plan_plugin.CallbackModule()
    plugin.v2_runner_on_failed(task_result({'changed': False, 'msg': 'API key rejected (401)'}), ignore_errors=True)
    assert plugin.plan.as_data(check_mode=True)['environments'][0]['status'] == 'failed'


class Stats:
    """What the plugin reads of Ansible's AggregateStats: the hosts, and their counts."""

    def __init__(self, **summaries):
        self.processed = dict.fromkeys(summaries, 1)
        self.summaries = summaries

    def summarize(self, host):
        return self.summaries[host]


@pytest.mark.parametrize('results, stats, gate_status', [
    ([], Stats(), 19),
    ([({'changed': False, 'msg': 'refused'}, True)], Stats(dev={'failures': 0, 'rescued': 1}), 18),
    ([({'changed': False, 'unknown': True}, False)], Stats(dev={}), 17),
    ([({'changed': True, 'operations': [mapped('+19499800001', None, 'agent_dev')]}, False)], Stats(dev={}), 16),
    ([({'changed': False, 'operations': []}, False)], Stats(dev={}), None),
], ids=['nothing compared', 'rescued failure', 'unknown', 'drift', 'no drift'])
def test_the_gate_status_of_a_check_run(monkeypatch, results, stats, gate_status):
    installed = []
    monkeypatch.setattr(plan_plugin, 'exit_with_gate_status', installed.append)
    monkeypatch.setattr(plan_plugin.CallbackModule, 'check_mode', property(lambda self: True))
    monkeypatch.delenv('PIOPIY_PLAN_DIR', raising=False)
    plugin = callback_loader.get('piopiy.voice.plan')
    plugin.set_options()
    for data, failed in results:
        (plugin.v2_runner_on_failed if failed else plugin.v2_runner_on_ok)(task_result(data))
    plugin.v2_playbook_on_stats(stats)
    assert installed == ([gate_status] if gate_status else [])


def test_a_workspace_task_files_each_environment_under_its_own_name_with_its_agents_named():
    """piopiy_fleet runs once for a workspace: its changes belong to each environment, not to the host that ran it."""
    plan = Plan()
    plan.add_result('dev', {'changed': True, 'operations': [dict(mapped('+19499800002', 'agent_dev', 'agent_stg'), environment='staging')],
                            'environments': {
                                'staging': {'changed': True, 'agent': STAGING, 'phone_numbers': ['+19499800002'], 'writes': 1},
                                'dev': {'changed': False, 'agent': DEV, 'phone_numbers': [], 'writes': 0}}},
                    'Apply the environments of each workspace')
    data = plan.as_data(check_mode=True)
    assert [(item['environment'], item['changed']) for item in data['environments']] == [('dev', False), ('staging', True)]
    text = render_markdown(data, rows_as_text(plan))
    assert '| staging | staging-support-agent | +19499800002 | dev-support-agent | staging-support-agent | map |' in text
