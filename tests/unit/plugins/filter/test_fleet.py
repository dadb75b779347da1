# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filters of playbooks/support_agent.yml: support_agent_fleet, fleet_workspaces, fleet_summary, shared_workspaces, and the
role's claimed_numbers."""

from __future__ import annotations

import hashlib

import pytest

from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable

from ansible_collections.piopiy.voice.plugins.filter.fleet import (
    claimed_numbers,
    fleet_summary,
    fleet_totals,
    fleet_workspaces,
    role_options,
    shared_workspaces,
    support_agent_fleet,
)

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
                                  'remove them with playbooks/support_agent.yml and -e confirm=old,older, or set them present')


def test_the_summary_says_each_environments_agent_numbers_and_writes_of_every_workspace():
    def environment(agent_id, numbers, writes):
        return {'agent': {'id': agent_id, 'name': agent_id + '-name'}, 'phone_numbers': numbers, 'changed': bool(writes),
                'writes': writes}
    results = [{'environments': {'dev': environment('agent_1', ['+19499800001', '+19499800002'], 3)}},
               {'environments': {'prod': environment('agent_2', [], 0)}}]
    assert fleet_summary(results) == {'dev': 'agent_1-name (agent_1) with 2 number(s), changed: 3 write(s)',
                                      'prod': 'agent_2-name (agent_2) with 0 number(s)'}


def test_the_summary_says_an_environment_removed():
    results = [{'environments': {'old': {'environment': 'old', 'agent_name': 'old-support-agent', 'state': 'absent', 'agent': None,
                                         'phone_numbers': [], 'changed': True, 'writes': 2}}}]
    assert fleet_summary(results) == {'old': 'old-support-agent absent, changed: 2 write(s)'}


def many_environments(count, changed):
    """count environments of one workspace, the named ones changed with two writes each."""
    def environment(index):
        name = 'env%02d' % index
        return {'agent': {'id': 'agent_%d' % index, 'name': name + '-support-agent'}, 'phone_numbers': ['+19499800001'],
                'changed': name in changed, 'writes': 2 if name in changed else 0}
    return [{'environments': dict(('env%02d' % index, environment(index)) for index in range(count))}]


def test_a_limited_summary_shows_the_changed_environments_first_and_the_totals_say_how_many_are_left_out():
    results = many_environments(30, changed={'env07', 'env29'})

    shown = fleet_summary(results, 5)

    assert len(shown) == 5 and {'env07', 'env29'} <= set(shown)
    assert shown['env29'] == 'env29-support-agent (agent_29) with 1 number(s), changed: 2 write(s)'
    assert fleet_totals(results, 5) == ('30 environment(s), 2 changed with 4 write(s); 5 shown, the changed ones first '
                                        '(support_agent_summary_limit=5; 0 shows every one)')


def test_a_summary_within_its_limit_or_without_one_shows_every_environment():
    results = many_environments(3, changed={'env01'})

    assert fleet_summary(results, 50) == fleet_summary(results) == fleet_summary(results, 0)
    assert len(fleet_summary(results, 3)) == 3
    assert fleet_totals(results, 50) == fleet_totals(results) == '3 environment(s), 1 changed with 2 write(s)'


def test_a_summary_with_more_changed_environments_than_its_limit_shows_only_changed_ones():
    assert set(fleet_summary(many_environments(10, changed={'env01', 'env02', 'env03'}), 2)) <= {'env01', 'env02', 'env03'}


def test_a_negative_summary_limit_is_refused():
    with pytest.raises(AnsibleFilterError, match='limit must be 0'):
        fleet_summary(many_environments(1, changed=set()), -1)


# ---- support_agent_fleet: every check of the inventory, before any environment is written ----

def present(*numbers, **variables):
    return dict({'support_agent_api_key': KEY_A, 'support_agent_phone_numbers': list(numbers)}, **variables)


def test_the_role_options_come_from_its_argument_specs():
    options = role_options()
    assert 'support_agent_phone_numbers' in options and 'support_agent_max_route_changes_per_run' in options
    assert 'support_agent_phone_number' not in options


def test_a_clean_inventory_has_no_problem_and_its_environments_carry_state_numbers_in_e164_and_token_files():
    hostvars = {'dev': present('+1 (949) 980-0001', support_agent_token_file='/tmp/dev.env', support_agent_token_file_format='env'),
                'prod': present('+19499800002', support_agent_language='en-IN')}
    fleet = support_agent_fleet(['dev', 'prod'], hostvars)
    assert fleet['problems'] == [] and fleet['rotating'] == [] and fleet['removing'] == []
    dev, prod = fleet['workspaces'][0]['environments']
    # The options that hold piopiy_fleet's default are left out: the module applies the same default.
    assert dev == {'environment': 'dev', 'name': 'dev-support-agent', 'state': 'present', 'phone_numbers': ['+19499800001'],
                   'token_file': '/tmp/dev.env', 'token_file_format': 'env'}
    assert prod == {'environment': 'prod', 'name': 'prod-support-agent', 'state': 'present', 'phone_numbers': ['+19499800002'],
                    'language': 'en-IN'}
    assert KEY_A not in repr(fleet)


def test_a_misspelt_variable_in_any_environment_is_named_with_its_fix():
    hostvars = {'dev': present('+19499800001'), 'staging': present('+19499800002', support_agent_phone_number=['+19499800003'])}
    problems = support_agent_fleet(['dev', 'staging'], hostvars)['problems']
    assert problems == ['unknown variable(s) for the support_agent role in staging: support_agent_phone_number (did you mean '
                        'support_agent_phone_numbers?). Fix the name, or remove the variable; the options are listed by '
                        'ansible-doc -t role piopiy.voice.support_agent']


def test_internal_and_registered_variables_are_not_unknown():
    hostvars = {'dev': present('+19499800001', support_agent__fleet={}, support_agent_result_agent={}, support_agent={})}
    assert support_agent_fleet(['dev'], hostvars)['problems'] == []


def test_missing_misspelt_or_empty_numbers_never_unmap_an_environment():
    hostvars = {
        'missing': {'support_agent_api_key': KEY_A, 'support_agent_phone_number': ['+19499800001']},
        'empty': present(),
        'allowed': present(support_agent_allow_empty=True),
        'kept': present(support_agent_exclusive=False),
        'text': {'support_agent_phone_numbers': '+19499800009'},
    }
    problems = support_agent_fleet(['missing', 'empty', 'allowed', 'kept', 'text'], hostvars)['problems']
    assert [problem for problem in problems if 'unknown variable' not in problem] == [
        "missing: support_agent_phone_numbers is not set. List the environment's numbers in support_agent_phone_numbers; to remove "
        "them all on purpose, set it to [] and support_agent_allow_empty to true",
        "empty: support_agent_phone_numbers is empty, which unmaps every number of empty-support-agent. List the environment's "
        "numbers in support_agent_phone_numbers; to remove them all on purpose, set it to [] and support_agent_allow_empty to true",
        "text: support_agent_phone_numbers must be a list of phone numbers, got '+19499800009'. List the environment's numbers in "
        "support_agent_phone_numbers; to remove them all on purpose, set it to [] and support_agent_allow_empty to true",
    ]


def test_a_bad_environment_name_an_empty_key_and_a_bad_state_are_named(monkeypatch):
    monkeypatch.delenv('PIOPIY_API_KEY', raising=False)
    monkeypatch.delenv('PIOPIY_QA_EU_API_KEY', raising=False)
    hostvars = {'Prod_EU': present('+19499800001'), 'qa-eu': present('+19499800002', support_agent_api_key='  '),
                'gone': {'support_agent_state': 'deleted'}}
    assert support_agent_fleet(['Prod_EU', 'qa-eu', 'gone'], hostvars)['problems'] == [
        'environment "Prod_EU" is not a valid environment name: name the inventory host with lower case letters, digits and dashes, '
        'starting with a letter, at most 31 characters (for example dev, staging, prod)',
        'No API key for the environment qa-eu. Empty or unset: support_agent_api_key, PIOPIY_QA_EU_API_KEY, PIOPIY_API_KEY. Fix: '
        'export PIOPIY_QA_EU_API_KEY, or PIOPIY_API_KEY for every environment (the shipped inventory reads them in that order), or '
        'set support_agent_api_key (keep it in Ansible Vault)',
        "gone: support_agent_state must be present or absent, got 'deleted'",
    ]


def test_a_number_in_two_environments_and_one_agent_named_twice_in_a_workspace_are_conflicts():
    hostvars = {'dev': present('+19499800001', '+19499800002'), 'prod': present('+1 949 980 0002'),
                'qa': present('+19499800003', support_agent_name='prod-support-agent'),
                'other': present('+19499800004', support_agent_api_key=KEY_B, support_agent_name='prod-support-agent')}
    assert support_agent_fleet(['dev', 'prod', 'qa', 'other'], hostvars)['problems'] == [
        'number +19499800002 is listed by 2 environments (dev, prod): a number routes to one agent; list it in one environment',
        "agent name 'prod-support-agent' is used by 2 environments (prod, qa) of one workspace: they would share one agent and fight "
        "over its numbers; give each environment its own support_agent_name",
    ]


def test_a_limited_run_counts_the_numbers_and_agents_of_the_environments_it_leaves_out():
    # --limit dev: prod is not applied (its misspelt variable is not its problem here), but its numbers and agent count.
    hostvars = {'dev': present('+19499800001', '+19499800002', support_agent_name='shared-agent'),
                'prod': present('+1 949 980 0002', support_agent_name='shared-agent', support_agent_langauge='en-US'),
                'gone': {'support_agent_state': 'absent', 'support_agent_phone_numbers': ['+19499800001']}}
    fleet = support_agent_fleet(['dev'], hostvars, False, ['dev', 'prod', 'gone'])

    assert fleet['problems'] == [
        'number +19499800002 is listed by 2 environments (dev, prod): a number routes to one agent; list it in one environment',
        "agent name 'shared-agent' is used by 2 environments (dev, prod) of one workspace: they would share one agent and fight "
        "over its numbers; give each environment its own support_agent_name",
    ]
    assert [environment['environment'] for workspace in fleet['workspaces'] for environment in workspace['environments']] == ['dev']


def test_a_limited_run_hands_the_workspace_plan_the_numbers_the_environments_it_leaves_out_list_and_protect():
    # Applied apart, dev would unmap a number that prod lists (moved there since dev's last run), or one prod protects.
    hostvars = {'dev': present('+19499800001'),
                'prod': present('+19499800004', '+1 949 980 0007', support_agent_protected_numbers=['+19499800008']),
                'uk': present('+442071230001', support_agent_api_key=KEY_B)}
    fleet = support_agent_fleet(['dev'], hostvars, False, ['dev', 'prod', 'uk'])

    assert fleet['problems'] == [] and len(fleet['workspaces']) == 1
    workspace = fleet['workspaces'][0]
    assert workspace['numbers_listed_elsewhere'] == {'+19499800004': 'prod', '+19499800007': 'prod'}
    assert workspace['protected_numbers'] == ['+19499800008']
    assert 'numbers_listed_elsewhere' not in support_agent_fleet(['dev', 'prod'], hostvars, False, ['dev', 'prod'])['workspaces'][0]


def test_two_environments_that_keep_their_credentials_in_one_token_file_are_refused():
    # The second agent's token would overwrite the first's: one runtime would lose its credentials for good.
    # Not counted: an environment removed, and one left out by --limit, for which the run writes no file (and to which
    # `--limit qa -e support_agent_token_file=...` gives qa's file too).
    hostvars = {'dev': present('+19499800001', support_agent_token_file='/secrets/agent.env'),
                'prod': present('+19499800004', support_agent_token_file='/secrets/agent.env'),
                'qa': present('+19499800005', support_agent_token_file='/secrets/qa.env'),
                'gone': {'support_agent_state': 'absent', 'support_agent_token_file': '/secrets/qa.env'},
                'uat': present('+19499800006', support_agent_token_file='/secrets/qa.env')}
    assert support_agent_fleet(['dev', 'prod', 'qa', 'gone'], hostvars, False, ['dev', 'prod', 'qa', 'gone', 'uat'])['problems'] == [
        "support_agent_token_file /secrets/agent.env is used by 2 environments (dev, prod): each would overwrite the credentials "
        "of the other's agent; give each environment its own file"]


def test_values_the_fleet_would_misread_are_named_with_their_environment_before_any_read():
    # "ture" would read as false: prod would keep numbers it no longer lists, and nobody would be told.
    hostvars = {'dev': present('+19499800001', support_agent_exclusive='ture', support_agent_allow_protected_changes='perhaps'),
                'staging': present('+19499800002', support_agent_language='english!', support_agent_token_file_format='yaml'),
                'prod': present('+19499800004', support_agent_exclusive='no', support_agent_buy_missing_numbers=True,
                                support_agent_language='en-IN', support_agent_token_file_format='env')}
    assert support_agent_fleet(['dev', 'staging', 'prod'], hostvars)['problems'] == [
        "dev: support_agent_exclusive must be true or false, got 'ture'",
        "dev: support_agent_allow_protected_changes must be true or false, got 'perhaps'",
        "staging: support_agent_language 'english!' is not a BCP 47 tag: use a tag such as en-US, en-IN, hi-IN or ta-IN",
        "staging: support_agent_token_file_format must be token or env, got 'yaml'"]


@pytest.mark.parametrize('cap', ['abc', -1, True])
def test_a_run_cap_that_is_not_a_whole_number_is_named_once(cap):
    hostvars = dict((host, present(number, support_agent_max_route_changes_per_run=cap))
                    for host, number in (('dev', '+19499800001'), ('prod', '+19499800004')))
    assert support_agent_fleet(['dev', 'prod'], hostvars)['problems'] == [
        'support_agent_max_route_changes_per_run must be a whole number of route changes, 0 or more, got %r: fix it, or leave it '
        'out for no cap' % (cap,)]


def test_an_api_base_with_or_without_its_trailing_slash_is_one_workspace():
    hostvars = {'dev': present('+19499800001', support_agent_api_base='https://api.example/v1/'),
                'prod': present('+19499800002', support_agent_api_base='https://api.example/v1', support_agent_name='dev-support-agent')}
    fleet = support_agent_fleet(['dev', 'prod'], hostvars)

    assert len(fleet['workspaces']) == 1
    assert fleet['problems'] == [
        "agent name 'dev-support-agent' is used by 2 environments (dev, prod) of one workspace: they would share one agent and "
        "fight over its numbers; give each environment its own support_agent_name"]


def test_a_cap_that_is_not_a_number_and_a_run_cap_set_for_some_environments_only_are_problems():
    hostvars = {'dev': present('+19499800001', support_agent_max_route_changes='abc'),
                'qa': present('+19499800002', support_agent_max_route_changes='3', support_agent_max_route_changes_per_run=1),
                'prod': present('+19499800003', support_agent_max_route_changes=-1)}
    assert support_agent_fleet(['dev', 'qa', 'prod'], hostvars)['problems'] == [
        "dev: support_agent_max_route_changes must be a whole number of route changes, 0 or more, got 'abc': fix it, or leave it "
        "out for no cap",
        'prod: support_agent_max_route_changes must be a whole number of route changes, 0 or more, got -1: fix it, or leave it '
        'out for no cap',
        'support_agent_max_route_changes_per_run differs between environments (qa: 1; dev, prod: unset): it caps the whole run, so '
        'set it once, in group_vars of piopiy_environments or with -e, not in host_vars',
    ]
    same = {host: dict(variables, support_agent_max_route_changes_per_run=5) for host, variables in hostvars.items()
            if host == 'qa'}
    assert support_agent_fleet(['qa'], same)['problems'] == []


def test_environments_to_remove_list_no_number_and_teardown_removes_every_one():
    hostvars = {'old': {'support_agent_state': 'absent', 'support_agent_phone_numbers': ['+19499800001']},
                'new': present('+19499800001')}
    fleet = support_agent_fleet(['old', 'new'], hostvars)
    assert fleet['problems'] == [] and fleet['removing'] == ['old']
    assert [(environment['environment'], environment['state'], environment['phone_numbers'])
            for environment in fleet['workspaces'][0]['environments'] + fleet['workspaces'][1]['environments']] in (
        [('old', 'absent', []), ('new', 'present', ['+19499800001'])], [('new', 'present', ['+19499800001']), ('old', 'absent', [])])
    torn = support_agent_fleet(['new'], hostvars, True)
    assert torn['removing'] == ['new'] and torn['workspaces'][0]['environments'][0]['state'] == 'absent'


def test_rotating_environments_are_listed_and_need_a_token_file():
    hostvars = {'dev': present('+19499800001', support_agent_rotate='now', support_agent_token_file='/tmp/dev.token'),
                'prod': present('+19499800002', support_agent_rotate='due'), 'qa': present('+19499800003')}
    fleet = support_agent_fleet(['dev', 'prod', 'qa'], hostvars)
    assert fleet['rotating'] == ['dev', 'prod']
    assert fleet['problems'] == ["prod: support_agent_rotate=due needs support_agent_token_file, where the new agent's credentials are "
                                 "stored before any number moves to it"]


def test_claimed_numbers_names_a_number_two_hosts_list_from_their_claim_or_their_inventory():
    hostvars = {'host1': {'support_agent__claim': {'environment': 'dev', 'phone_numbers': ['+19499800001']}},
                'host2': {'support_agent_phone_numbers': ['+1 949 980 0001']},
                'host3': {'support_agent_state': 'absent', 'support_agent_phone_numbers': ['+19499800001']},
                'host4': {}}
    assert claimed_numbers(['host1', 'host2', 'host3', 'host4'], hostvars) == [
        'number +19499800001 is listed by 2 environments (dev, host2): a number routes to one agent; list it in one environment']
    assert claimed_numbers(['host1', 'host3'], hostvars) == []


def test_each_workspace_has_a_label_with_its_api_base_and_size_in_the_order_of_the_workspaces():
    hostvars = {'dev': present('+19499800001'), 'qa': present('+19499800002'),
                'other': present('+19499800003', support_agent_api_key=KEY_B, support_agent_api_base='https://api.example/v1')}
    fleet = support_agent_fleet(['dev', 'qa', 'other'], hostvars)

    labels = dict(zip((workspace['host'] for workspace in fleet['workspaces']), fleet['labels']))
    assert labels == {'dev': 'PIOPIY_API_BASE: 2 environment(s)', 'other': 'https://api.example/v1: 1 environment(s)'}


def planned(lowest_agent_id, *environments):
    """A piopiy_fleet result of one API key's environments, as the module returns it."""
    return {'environments': dict((name, {'environment': name}) for name in environments),
            'workspace': {'agents': 0 if lowest_agent_id is None else 3, 'lowest_agent_id': lowest_agent_id}}


def test_two_api_keys_that_list_the_same_agents_are_named_as_one_workspace():
    results = [planned('agent_0a1', 'staging', 'dev'), planned('agent_7f2', 'other'), planned('agent_0a1', 'prod')]
    assert shared_workspaces(results) == [
        'the API keys of environments [dev, staging] and [prod] reach one workspace (each lists its agents), so each key\'s '
        'environments would be checked without the others (one agent per name, protected numbers, removals). Nothing was '
        'changed in any environment: give every environment of a workspace the same support_agent_api_key']


def test_keys_of_their_own_workspaces_and_empty_workspaces_are_left_alone():
    # Two empty workspaces list no agent: nothing tells them apart, nor one workspace from two.
    assert shared_workspaces([planned('agent_0a1', 'dev'), planned('agent_7f2', 'prod'), planned(None, 'qa'), planned(None, 'uat')]) == []
    assert shared_workspaces([{'environments': {}}]) == []
