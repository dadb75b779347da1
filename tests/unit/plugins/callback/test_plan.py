# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The plan callback: rows from operations, the two report files, and the drift exit status."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.piopiy.voice.plugins.callback import plan as plan_plugin
from ansible_collections.piopiy.voice.plugins.callback.plan import (
    DRIFT_EXIT_STATUS, Plan, exit_status, exit_with_drift_status, render_markdown, rows_as_text, rows_from_result, write_report)

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
    assert (data['schema_version'], data['mode'], data['drift'], data['change_count']) == (1, 'check', True, 3)
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


@pytest.mark.parametrize('ansible_status, drift, expected', [
    (0, True, DRIFT_EXIT_STATUS), (None, True, DRIFT_EXIT_STATUS), (0, False, 0), (2, True, 2), (4, True, 4), (6, True, 6), (250, True, 250),
])
def test_only_a_success_becomes_the_drift_status(ansible_status, drift, expected):
    assert exit_status(ansible_status, drift) == expected


def test_the_drift_status_is_not_one_ansible_playbook_uses():
    assert DRIFT_EXIT_STATUS not in set(range(0, 16)) | {99, 250, 255}


def test_exit_hook_replaces_success_only_and_installs_once(monkeypatch):
    calls = []
    monkeypatch.setattr(sys, 'exit', calls.append)
    exit_with_drift_status()
    exit_with_drift_status()
    # Through getattr, as ansible-playbook looks sys.exit up when it ends (and linters take it for a real exit).
    getattr(sys, 'exit')(0)
    getattr(sys, 'exit')(2)
    assert calls == [DRIFT_EXIT_STATUS, 2]
    assert plan_plugin.sys is sys


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
