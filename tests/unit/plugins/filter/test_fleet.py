# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet_workspaces and fleet_summary filters of playbooks/fleet.yml."""

from __future__ import annotations

import hashlib

import pytest

from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable

from ansible_collections.piopiy.voice.plugins.filter.fleet import fleet_summary, fleet_workspaces

KEY_A = 'pk_test_acme_0001'
KEY_B = 'pk_test_beta_0001'


class UndefinedTemplates(dict):
    """A host's variables whose templates use an undefined variable, as hostvars raises on reading them."""

    def __getitem__(self, name):
        raise AnsibleUndefinedVariable('%s is undefined' % name)


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def test_environments_are_grouped_by_key_and_base_with_the_roles_defaults_and_never_the_key():
    hostvars = {
        'dev': {'support_agent_api_key': KEY_A, 'support_agent_phone_numbers': ['+19499800001']},
        'prod': {'support_agent_api_key': KEY_B, 'support_agent_name': 'Prod desk', 'support_agent_language': 'en-IN',
                 'support_agent_exclusive': 'no'},
        'stage': {'support_agent_api_key': KEY_A, 'support_agent_api_base': 'http://127.0.0.1:8080/v1'},
        'qa': {'support_agent_api_key': KEY_A},
    }
    grouped = fleet_workspaces(['dev', 'prod', 'stage', 'qa'], hostvars)

    by_host = dict((workspace['host'], [environment['environment'] for environment in workspace['environments']])
                   for workspace in grouped)
    assert by_host == {'dev': ['dev', 'qa'], 'prod': ['prod'], 'stage': ['stage']}
    # Sorted by the digest of the key, then the base: the workspace order does not depend on the order of the hosts.
    assert [workspace['host'] for workspace in grouped] == [
        host for unused, host in sorted([(digest(KEY_A) + ' ', 'dev'), (digest(KEY_B) + ' ', 'prod'),
                                         (digest(KEY_A) + ' http://127.0.0.1:8080/v1', 'stage')])]
    prod = next(workspace for workspace in grouped if workspace['host'] == 'prod')['environments'][0]
    dev = grouped[[workspace['host'] for workspace in grouped].index('dev')]['environments'][0]
    assert prod == {'environment': 'prod', 'name': 'Prod desk', 'language': 'en-IN', 'phone_numbers': [], 'exclusive': False,
                    'max_route_changes': None, 'allow_protected_changes': None}
    assert dev == {'environment': 'dev', 'name': 'dev-support-agent', 'language': None, 'phone_numbers': ['+19499800001'],
                   'exclusive': True, 'max_route_changes': None, 'allow_protected_changes': None}
    assert KEY_A not in repr(grouped) and KEY_B not in repr(grouped)


def test_each_environment_carries_its_guard_rails_and_a_workspace_the_numbers_any_of_its_environments_protects():
    hostvars = {
        'dev': {'support_agent_api_key': KEY_A, 'support_agent_protected_numbers': ['+19499800001', '+19499800002'],
                'support_agent_max_route_changes': 3},
        'prod': {'support_agent_api_key': KEY_A, 'support_agent_protected_numbers': ['+19499800002', '+19499800003'],
                 'support_agent_allow_protected_changes': True},
        'other': {'support_agent_api_key': KEY_B},
    }
    grouped = fleet_workspaces(['dev', 'prod', 'other'], hostvars)
    by_host = dict((workspace['host'], workspace) for workspace in grouped)

    assert by_host['dev']['protected_numbers'] == ['+19499800001', '+19499800002', '+19499800003']
    assert by_host['other']['protected_numbers'] == []
    assert [(environment['max_route_changes'], environment['allow_protected_changes']) for environment in by_host['dev']['environments']] == [
        (3, None), (None, True)]


def test_undefined_templates_take_the_default():
    hostvars = {'new': {}, 'odd': UndefinedTemplates(support_agent_name='{{ nope }}')}
    grouped = fleet_workspaces(['new', 'odd'], hostvars)
    assert [environment['name'] for environment in grouped[0]['environments']] == ['new-support-agent', 'odd-support-agent']


def test_hosts_not_to_be_present_fail_the_grouping_each_named_with_the_fix():
    hostvars = {'old': {'support_agent_state': 'absent'}, 'new': {}, 'older': {'support_agent_state': 'absent'}}
    with pytest.raises(AnsibleFilterError) as failure:
        fleet_workspaces(['old', 'new', 'older'], hostvars)
    assert str(failure.value) == ('the fleet applies environments to be present only, and old, older set support_agent_state: absent; '
                                  'remove them with playbooks/support_agent.yml --limit old,older, or set them present')


def test_the_summary_says_each_environments_agent_numbers_and_writes_of_every_workspace():
    def environment(agent_id, numbers, operations):
        return {'agent': {'id': agent_id, 'name': agent_id + '-name'}, 'phone_numbers': numbers, 'changed': bool(operations),
                'operations': operations}
    results = [{'environments': {'dev': environment('agent_1', ['+19499800001', '+19499800002'], [{}, {}, {}])}},
               {'environments': {'prod': environment('agent_2', [], [])}}]
    assert fleet_summary(results) == {'dev': 'agent_1-name (agent_1) with 2 number(s), changed: 3 write(s)',
                                      'prod': 'agent_2-name (agent_2) with 0 number(s)'}
