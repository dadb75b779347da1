# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The unknown_variables, run_route_changes and unmanaged_objects filters."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.piopiy.voice.plugins.filter.guard import run_route_changes, unknown_variables
from ansible_collections.piopiy.voice.plugins.filter.unmanaged import unmanaged_objects

KNOWN = ['support_agent_environment', 'support_agent_phone_numbers', 'support_agent_language', 'support_agent_exclusive']


def test_known_and_internal_names_pass():
    names = KNOWN + ['support_agent_result_agent', 'support_agent__connection']
    assert unknown_variables(names, KNOWN, ['support_agent_result_', 'support_agent__']) == []


def test_a_typo_is_named_with_the_option_it_resembles():
    names = ['support_agent_phone_number', 'support_agent_langauge', 'support_agent_colour', 'support_agent_environment']
    assert unknown_variables(names, KNOWN) == [
        'support_agent_colour',
        'support_agent_langauge (did you mean support_agent_language?)',
        'support_agent_phone_number (did you mean support_agent_phone_numbers?)',
    ]


ROLE_NAMES = ['support_agent_' + name for name in (
    'allow_empty', 'api_base', 'api_key', 'environment', 'exclusive', 'language', 'max_route_changes_per_run', 'name',
    'phone_numbers', 'rotate', 'state', 'token_file', 'token_file_format')]


@pytest.mark.parametrize('name, suggestion', [
    ('support_agent_timeout', None),  # compared whole, the shared prefix made it resemble support_agent_name
    ('support_agent_colour', None),
    ('support_agent_names', 'support_agent_name'),
    ('support_agent_langauge', 'support_agent_language'),
    ('support_agent_envirnment', 'support_agent_environment'),
    ('support_agent_token_fle', 'support_agent_token_file'),
    ('support_agent_apikey', 'support_agent_api_key'),
])
def test_only_a_close_match_of_the_part_after_the_shared_prefix_is_suggested(name, suggestion):
    assert unknown_variables([name], ROLE_NAMES) == ['%s (did you mean %s?)' % (name, suggestion) if suggestion else name]


def test_a_single_known_name_is_compared_after_its_last_shared_underscore():
    assert unknown_variables(['support_agent_langauge'], ['support_agent_language']) == [
        'support_agent_langauge (did you mean support_agent_language?)']


MOVE = {'op': 'map', 'resource': 'route', 'phone_number': '+19499800001', 'agent_id': 'agent_2',
        'before': {'agent_id': 'agent_1'}, 'after': {'agent_id': 'agent_2'}}
CREATE = {'op': 'create', 'resource': 'agent', 'id': None, 'name': 'dev-support-agent', 'before': None, 'after': {}}


def test_run_route_changes_is_empty_at_the_cap_and_names_the_option_over_it():
    planned = {'dev': [CREATE, MOVE], 'prod': []}
    assert run_route_changes(planned, '1') == ''
    assert run_route_changes(planned, 0, 'support_agent_max_route_changes_per_run').startswith(
        'the run would make 1 route change(s) in 1 environment(s), more than support_agent_max_route_changes_per_run=0: '
        'dev 1 (map +19499800001).')


@pytest.mark.parametrize('planned, cap, message', [
    ({}, 'ten', r'max_route_changes_per_run must be a whole number of route changes, got .ten.'),
    ({}, -1, r'max_route_changes_per_run must be 0 or more, got -1'),
    ([MOVE], 1, r'run_route_changes expects \{environment: operations\}, got list'),
])
def test_run_route_changes_refuses_a_bad_cap_or_input(planned, cap, message):
    with pytest.raises(AnsibleFilterError, match=message):
        run_route_changes(planned, cap)


def agent(agent_id, name):
    return {'id': agent_id, 'name': name, 'status': 'active'}


def test_unmanaged_agents_and_routes_across_environments_sharing_a_workspace():
    agents = [agent('agent_1', 'dev-support-agent'), agent('agent_2', 'prod-support-agent'), agent('agent_3', 'Old bot')]
    routes = [{'phone_number': '+19499800002', 'agent_id': 'agent_3'}, {'phone_number': '+19499800001', 'agent_id': 'agent_1'}]
    views = [
        {'environment': 'dev', 'agent_name': 'dev-support-agent', 'agents': agents, 'routes': routes},
        {'environment': 'prod', 'agent_name': 'prod-support-agent', 'agents': agents, 'routes': routes},
    ]
    found = unmanaged_objects(views)
    assert found['agents'] == [{'id': 'agent_3', 'name': 'Old bot', 'status': 'active'}]
    assert found['routes'] == [{'phone_number': '+19499800002', 'agent_id': 'agent_3', 'agent_name': 'Old bot'}]
    assert found['lines'] == ['agent Old bot (agent_3)', 'route +19499800002 -> Old bot (agent_3)']


def test_purchased_numbers_that_no_environment_lists_are_reported_with_their_route():
    purchased = [{'phone_number': '+19499800001', 'agent_id': 'agent_1'}, {'phone_number': '+19499800002', 'agent_id': 'agent_3'},
                 {'phone_number': '+19499800003', 'agent_id': None}]
    views = [
        {'environment': 'dev', 'agent_name': 'dev-support-agent', 'agents': [], 'routes': [], 'purchased': purchased,
         'listed': ['+1 (949) 980-0001']},
        {'environment': 'prod', 'agent_name': 'prod-support-agent', 'agents': [], 'routes': [], 'purchased': purchased, 'listed': []},
    ]
    assert unmanaged_objects(views)['numbers'] == [{'phone_number': '+19499800002', 'agent_id': 'agent_3'},
                                                   {'phone_number': '+19499800003', 'agent_id': None}]
    assert unmanaged_objects([dict(view, purchased=None) for view in views])['numbers'] == []


def test_an_agent_managed_in_one_workspace_is_unmanaged_in_another_with_the_same_name():
    views = [
        {'environment': 'dev', 'agent_name': 'dev-support-agent', 'agents': [agent('agent_1', 'dev-support-agent')], 'routes': []},
        {'environment': 'eu', 'agent_name': 'eu-support-agent', 'agents': [agent('agent_9', 'dev-support-agent')], 'routes': []},
    ]
    assert [item['id'] for item in unmanaged_objects(views)['agents']] == ['agent_9']


def test_the_filter_files_load_without_the_api_client():
    """Ansible imports every filter file of the collection in each worker that uses one of its filters: none brings requests."""
    code = ('import sys\n'
            'import ansible_collections.piopiy.voice.plugins.filter.export, ansible_collections.piopiy.voice.plugins.filter.fleet\n'
            'import ansible_collections.piopiy.voice.plugins.filter.guard, ansible_collections.piopiy.voice.plugins.filter.unmanaged\n'
            'print(sorted(name for name in sys.modules if name.split(".")[0] in ("requests", "urllib3") or name.endswith(".piopiy_api")))\n')
    loaded = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
                            capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == '[]'
    assert run_route_changes({'dev': [MOVE, MOVE]}, 1).startswith('the run would make 2 route change(s) in 1 environment(s)')
