# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The export_inventory filter: host names, what is left out, and byte-stable YAML that reads back as written."""

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader

from ansible_collections.piopiy.voice.plugins.filter.export import assign_hosts, export_inventory, number_ranges, slug, yaml_string, yaml_value


def agent(agent_id, name, language='en-US'):
    return {'id': agent_id, 'name': name, 'language': language, 'status': 'active'}


def route(number, agent_id):
    return {'phone_number': number, 'agent_id': agent_id, 'route_type': 'ai_agent', 'status': 'connected'}


def purchased(*numbers):
    return [{'phone_number': number, 'id': 'num_' + number[1:], 'status': 'active', 'agent_id': None} for number in numbers]


def loaded(layout, path):
    """A file as Ansible reads it (host_vars hold !unsafe values, which a plain YAML loader refuses)."""
    return DataLoader().load(layout['files'][path])


@pytest.mark.parametrize('name, host', [
    ('Sales Bot', 'sales-bot'),
    ('Café Déjà-Vu!', 'cafe-deja-vu'),
    ('9 Lives', 'agent-9-lives'),
    ('---', 'agent'),
    ('{{ 6 * 7 }}', 'agent-6-7'),
    ('A' * 40, 'a' * 31),
    ('abcdefghij-klmnopqrstu-vwxyz-abc-def', 'abcdefghij-klmnopqrstu-vwxyz-ab'),
])
def test_slug_is_a_valid_environment_name(name, host):
    assert slug(name) == host


def test_conventional_agents_take_their_environment_and_others_get_the_next_free_suffix():
    agents = [agent('agent_3', 'dev'), agent('agent_1', 'dev-support-agent'), agent('agent_2', 'Dev'), agent('agent_4', 'x' * 40),
              agent('agent_5', 'x' * 41)]
    assigned = [(host, item['id'], conventional) for host, item, conventional in assign_hosts(agents)]
    assert assigned == [('dev', 'agent_1', True), ('dev-2', 'agent_2', False), ('dev-3', 'agent_3', False),
                        ('x' * 29 + '-2', 'agent_5', False), ('x' * 31, 'agent_4', False)]


def test_host_names_do_not_depend_on_the_order_the_api_lists_agents_in():
    agents = [agent('agent_2', 'Dev'), agent('agent_1', 'dev'), agent('agent_9', 'dev-support-agent')]
    assert export_inventory(agents, [], []) == export_inventory(list(reversed(agents)), [], [])


def test_an_agent_by_the_convention_has_no_name_override_and_sorted_numbers():
    layout = export_inventory([agent('agent_1', 'prod-support-agent', 'en-IN')],
                              [route('+19499800002', 'agent_1'), route('+19499800001', 'agent_1')],
                              purchased('+19499800001', '+19499800002'))
    assert layout['hosts'] == ['prod']
    assert loaded(layout, 'hosts.yml') == {'piopiy_environments': {'hosts': {'prod': None}}}
    assert loaded(layout, 'host_vars/prod.yml') == {'support_agent_language': 'en-IN',
                                                    'support_agent_phone_numbers': ['+19499800001', '+19499800002']}


def test_any_other_agent_keeps_its_name_and_an_agent_without_numbers_allows_empty():
    layout = export_inventory([agent('agent_1', 'Sales "Bot"\\')], [], [])
    assert loaded(layout, 'host_vars/sales-bot.yml') == {
        'support_agent_name': 'Sales "Bot"\\', 'support_agent_language': 'en-US',
        'support_agent_phone_numbers': [], 'support_agent_allow_empty': True}


def test_a_name_with_jinja_is_never_templated():
    text = export_inventory([agent('agent_1', "{{ lookup('env', 'PIOPIY_API_KEY') }}")], [], [])['files']['host_vars/lookup-env-piopiy-api-key.yml']
    assert 'support_agent_name: !unsafe "{{ lookup(\'env\', \'PIOPIY_API_KEY\') }}"' in text


def test_an_unknown_language_is_left_out_so_the_role_keeps_it():
    layout = export_inventory([agent('agent_1', 'dev-support-agent', None)], [], [])
    assert 'support_agent_language' not in loaded(layout, 'host_vars/dev.yml')


# Names YAML 1.1 reads as a boolean, null, number or date when bare, and names that slug to such a host name.
YAML_SPECIAL = ['On', 'No', 'Null', 'Yes', 'True', 'off', 'FALSE', 'y', 'n', '~', '1e3', '0x1F', '0o17', '.inf', '.NaN', '12:30',
                '2001-12-14', 'null-support-agent', 'true-support-agent', 'yes-support-agent']


def test_every_host_name_reads_back_as_a_string_whatever_yaml_makes_of_it_bare():
    agents = [agent('agent_%02d' % index, name) for index, name in enumerate(YAML_SPECIAL)]
    layout = export_inventory(agents, [], [])
    assert 'on' in layout['hosts'] and 'null' in layout['hosts'] and 'true' in layout['hosts']
    for read in (yaml.safe_load, DataLoader().load):
        hosts = read(layout['files']['hosts.yml'])['piopiy_environments']['hosts']
        assert sorted(hosts) == sorted(layout['hosts']) and all(isinstance(host, str) for host in hosts)
    for host in layout['hosts']:
        assert 'support_agent_phone_numbers' in loaded(layout, 'host_vars/%s.yml' % host)
    names = dict((host, loaded(layout, 'host_vars/%s.yml' % host).get('support_agent_name')) for host in layout['hosts'])
    assert sorted(name for name in names.values() if name is not None) == sorted(name for name in YAML_SPECIAL if not name.endswith('-support-agent'))


def test_every_value_the_api_gave_that_could_be_a_template_is_written_unsafe():
    hostile = "{{ lookup('pipe', 'id') }}"
    layout = export_inventory([agent('agent_1', 'Sales Bot', hostile), agent('agent_2', 'prod-support-agent', '{% raw %}'),
                               agent('agent_3', 'On', '{# x #}')],
                              [route('+19499800001', 'agent_1')], purchased('+19499800001'))
    sales = layout['files']['host_vars/sales-bot.yml']
    assert 'support_agent_language: !unsafe "{{ lookup(\'pipe\', \'id\') }}"\n' in sales
    assert 'support_agent_language: !unsafe "{% raw %}"\n' in layout['files']['host_vars/prod.yml']
    assert 'support_agent_language: !unsafe "{# x #}"\n' in layout['files']['host_vars/on.yml']
    # Text that cannot be a template stays plain: from ansible-core 2.19, !unsafe "On" would read as true.
    assert 'support_agent_name: "On"\n' in layout['files']['host_vars/on.yml'] and '  - "+19499800001"\n' in sales
    assert loaded(layout, 'host_vars/sales-bot.yml') == {'support_agent_name': 'Sales Bot', 'support_agent_language': hostile,
                                                         'support_agent_phone_numbers': ['+19499800001']}
    assert loaded(layout, 'host_vars/on.yml')['support_agent_name'] == 'On'


@pytest.mark.parametrize('text', ['{{ 6 * 7 }}', '{%', '{#', '100%', '{}', '{ On }'])
def test_text_that_could_be_a_template_is_marked_and_reads_back_as_the_same_text(text):
    assert yaml_value(text) == '!unsafe ' + yaml_string(text)
    assert DataLoader().load('value: ' + yaml_value(text)) == {'value': text}


@pytest.mark.parametrize('text', YAML_SPECIAL + ['+19499800001', 'en-US'])
def test_other_text_is_quoted_plain_and_reads_back_as_the_same_text(text):
    assert yaml_value(text) == yaml_string(text)
    assert DataLoader().load('value: ' + yaml_value(text)) == {'value': text}


def test_a_language_that_is_not_text_is_not_written():
    layout = export_inventory([agent('agent_1', 'dev-support-agent', 42)], [], [])
    assert 'support_agent_language' not in loaded(layout, 'host_vars/dev.yml')


def test_a_prepared_rotation_is_exported_as_after_it_the_successor_under_the_name_with_every_number():
    agents = [agent('agent_old', 'dev-support-agent', 'en-IN'), agent('agent_new', 'dev-support-agent--rotating-agent_old', 'en-IN'),
              agent('agent_3', 'Sales Bot')]
    routes = [route('+19499800001', 'agent_old'), route('+19499800002', 'agent_new'), route('+19499800003', 'agent_3')]
    layout = export_inventory(agents, routes, purchased('+19499800001', '+19499800002', '+19499800003'))
    assert layout['hosts'] == ['dev', 'sales-bot']
    assert loaded(layout, 'host_vars/dev.yml') == {'support_agent_language': 'en-IN',
                                                   'support_agent_phone_numbers': ['+19499800001', '+19499800002']}
    assert layout['rotations'] == [{'environment': 'dev', 'name': 'dev-support-agent', 'successor_id': 'agent_new', 'replaced_id': 'agent_old'}]
    assert layout['left_out'] == [] and layout['orphan_routes'] == []
    assert 'agent agent_new will replace agent agent_old' in layout['files']['host_vars/dev.yml']
    assert '# Credential rotations in progress: 1\ndev: a credential rotation is in progress' in layout['files']['export-report.txt']


def test_a_rotation_past_the_old_agents_delete_is_exported_under_the_name_it_will_have():
    agents = [agent('agent_new', 'Sales Bot--rotating-agent_old', 'hi-IN')]
    layout = export_inventory(agents, [route('+19499800001', 'agent_new')], purchased('+19499800001'))
    assert layout['hosts'] == ['sales-bot']
    assert loaded(layout, 'host_vars/sales-bot.yml') == {'support_agent_name': 'Sales Bot', 'support_agent_language': 'hi-IN',
                                                         'support_agent_phone_numbers': ['+19499800001']}
    assert layout['rotations'][0]['replaced_id'] == 'agent_old'


def test_a_rotation_that_cannot_go_on_leaves_its_agents_out_with_the_reason():
    agents = [agent('agent_old', 'dev-support-agent'), agent('agent_a', 'dev-support-agent--rotating-agent_old'),
              agent('agent_b', 'dev-support-agent--rotating-agent_old')]
    layout = export_inventory(agents, [], [])
    assert layout['hosts'] == [] and layout['rotations'] == []
    assert sorted(item['id'] for item in layout['left_out']) == ['agent_a', 'agent_b', 'agent_old']
    assert all(item['reason'].startswith('a credential rotation of agent dev-support-agent is in progress and cannot go on (2 successors')
               for item in layout['left_out'])


def test_duplicate_names_and_unpurchased_routes_are_left_out_and_reported():
    agents = [agent('agent_1', 'Billing'), agent('agent_2', 'Billing'), agent('agent_3', 'dev-support-agent')]
    routes = [route('+19499800001', 'agent_2'), route('+19499800002', 'agent_3'), route('+19499800003', 'agent_gone')]
    layout = export_inventory(agents, routes, purchased('+19499800001', '+19499800003', '+19499800004'))
    assert layout['hosts'] == []
    assert [(item['id'], item['reason'].split(',')[0]) for item in layout['left_out']] == [
        ('agent_1', 'its name is shared by 2 agents'), ('agent_2', 'its name is shared by 2 agents'),
        ('agent_3', 'it routes numbers the workspace has not purchased (+19499800002)')]
    assert layout['orphan_routes'] == [{'phone_number': '+19499800003', 'agent_id': 'agent_gone'}]
    assert layout['unrouted_numbers'] == ['+19499800004']
    report = layout['files']['export-report.txt']
    assert 'Billing (agent_2): its name is shared by 2 agents' in report and 'numbers: +19499800001' in report
    assert '+19499800003 -> agent_gone' in report
    assert loaded(layout, 'hosts.yml') == {'piopiy_environments': {'hosts': {}}}


def test_an_agent_without_an_id_is_refused():
    with pytest.raises(AnsibleFilterError, match='every agent needs an id'):
        export_inventory([{'name': 'x'}], [], [])


def test_number_ranges_shorten_runs_of_three_or_more():
    numbers = ['+19499800001', '+19499800002', '+19499800003', '+19499800005', '+19499800006', '+442071230001']
    assert number_ranges(numbers) == ['+19499800001 to +19499800003 (3 numbers)', '+19499800005', '+19499800006', '+442071230001']


@pytest.mark.parametrize('text', ['plain', 'quote " and \\ backslash', 'tab\tand\nnewline', 'line\u2028sep', 'emoji \U0001F600', 'Déjà'])
def test_yaml_strings_read_back_as_written(text):
    assert yaml.safe_load('value: ' + yaml_string(text)) == {'value': text}
    assert '\n' not in yaml_string(text)


def test_unknown_routes_write_the_agents_without_numbers_and_say_so():
    agents = [agent('agent_1', 'prod-support-agent', 'en-IN'), agent('agent_2', 'Sales Bot')]
    layout = export_inventory(agents, [], [{'phone_number': '+19499800001', 'id': 'num_1', 'status': 'active', 'agent_id': None}],
                              True)
    assert layout['hosts'] == ['prod', 'sales-bot'] and layout['routes_unknown']
    for host in ('prod', 'sales-bot'):
        text = layout['files']['host_vars/%s.yml' % host]
        assert 'Its numbers are unknown' in text
        assert yaml.safe_load(text).get('support_agent_phone_numbers') is None  # unset: the role refuses, never unmaps
        assert 'support_agent_allow_empty' not in text
    assert '# Routes: UNKNOWN' in layout['files']['export-report.txt']
    assert 'with no route' not in layout['files']['export-report.txt']
