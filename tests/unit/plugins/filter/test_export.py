# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The export_inventory filter: host names, what is left out, and byte-stable YAML that reads back as written."""

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.piopiy.voice.plugins.filter.export import assign_hosts, export_inventory, number_ranges, slug, yaml_string


def agent(agent_id, name, language='en-US'):
    return {'id': agent_id, 'name': name, 'language': language, 'status': 'active'}


def route(number, agent_id):
    return {'phone_number': number, 'agent_id': agent_id, 'route_type': 'ai_agent', 'status': 'connected'}


def purchased(*numbers):
    return [{'phone_number': number, 'id': 'num_' + number[1:], 'status': 'active', 'agent_id': None} for number in numbers]


def loaded(layout, path):
    return yaml.safe_load(layout['files'][path])


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
    text = export_inventory([agent('agent_1', 'dev-support-agent', None)], [], [])['files']['host_vars/dev.yml']
    assert 'support_agent_language' not in yaml.safe_load(text)


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
