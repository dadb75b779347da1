# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Talks to the emulator directly, as a person in the dashboard would, and checks what runme.sh's runs left.

Usage: workspace.py CONFIG COMMAND [ARGS...]; CONFIG is the integration config (emulator URL and key); COMMAND one of
COMMANDS or of ../setup_piopiy/files/emulator_admin.py's (reset, clear-log, no-writes, requests...).
Exits non-zero with the first difference found.
"""

from __future__ import annotations

import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_piopiy', 'files'))
from emulator_admin import expect, leaked, main  # pylint: disable=wrong-import-position

# Agents as someone made them by hand: odd names, two agents sharing a name, an agent whose name holds a
# Jinja expression, one with no numbers, one named by the role's convention. Numbers by last digits.
AGENTS = [
    ('dev-support-agent', 'en-IN', ['+19499800001', '+19499800002']),
    ('prod-support-agent', 'en-US', []),
    ('Sales Bot', 'hi-IN', ['+19499800003']),
    ('Billing', 'en-US', ['+19499800004']),
    ('Billing', 'en-GB', []),
    ('Café Déjà-Vu!', 'ta-IN', ['+19499800005']),
    ('{{ 6 * 7 }}', 'en-US', []),
    ('9 Lives', 'en-US', ['+14155550000']),
    ('dev', 'en-US', []),
]


# The workspace of the config's key.
WORKSPACE = 'ws_acme'


def agents(emulator):
    return emulator.workspace(WORKSPACE)['agents']


def agent_id(emulator, name):
    (agent,) = [agent for agent in agents(emulator) if agent['name'] == name]
    return agent['id']


def route(emulator, number, agent):
    emulator.api('POST', 'phone-number-routing', {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent})


def seed(emulator):
    emulator.reset()
    for name, language, numbers in AGENTS:
        agent = emulator.api('POST', 'ai-agents', {'name': name, 'language': language})
        for number in numbers:
            route(emulator, number, agent['id'])


def behind_the_back(emulator):
    """A number re-routed and an agent renamed in the dashboard."""
    route(emulator, '+19499800003', agent_id(emulator, 'dev-support-agent'))
    emulator.api('PATCH', 'ai-agents/' + agent_id(emulator, 'Café Déjà-Vu!'), {'name': 'Cafe'})


def no_secrets(emulator, *directories):
    """No API key and no agent token the emulator ever issued in any file under the directories."""
    tokens = emulator.tokens()
    expect(len(tokens) >= len(AGENTS), 'the emulator issued fewer tokens than agents were made', len(tokens))
    secrets = emulator.api_keys() + tokens
    for directory in directories:
        for root, _dirs, files in os.walk(directory):
            for name in files:
                with open(os.path.join(root, name), encoding='utf-8') as handle:
                    expect(not leaked(secrets, handle.read()), 'a secret is in %s' % os.path.join(root, name))


def exported(emulator, directory):
    """The exported inventory says exactly what the workspace holds."""
    def read(path):
        with open(os.path.join(directory, path), encoding='utf-8') as handle:
            return yaml.safe_load(handle)
    hosts = sorted(read('hosts.yml')['piopiy_environments']['hosts'])
    expect(hosts == ['agent-6-7', 'agent-9-lives', 'cafe-deja-vu', 'dev', 'dev-2', 'prod', 'sales-bot'], 'hosts differ', hosts)
    expect(read('host_vars/dev.yml') == {'support_agent_language': 'en-IN', 'support_agent_phone_numbers': ['+19499800001', '+19499800002']},
           'dev differs', read('host_vars/dev.yml'))
    expect(read('host_vars/prod.yml') == {'support_agent_language': 'en-US', 'support_agent_phone_numbers': [], 'support_agent_allow_empty': True},
           'prod differs', read('host_vars/prod.yml'))
    expect(read('host_vars/sales-bot.yml') == {'support_agent_name': 'Sales Bot', 'support_agent_language': 'hi-IN',
                                               'support_agent_phone_numbers': ['+19499800003']}, 'sales-bot differs')
    expect(read('host_vars/cafe-deja-vu.yml')['support_agent_name'] == 'Café Déjà-Vu!', 'the accented name differs')
    expect(read('host_vars/dev-2.yml')['support_agent_name'] == 'dev', 'the agent named dev differs')
    with open(os.path.join(directory, 'host_vars/agent-6-7.yml'), encoding='utf-8') as handle:
        expect('support_agent_name: !unsafe "{{ 6 * 7 }}"' in handle.read(), 'the Jinja name is not marked !unsafe')
    with open(os.path.join(directory, 'export-report.txt'), encoding='utf-8') as handle:
        report = handle.read()
    billing = sorted(agent['id'] for agent in agents(emulator) if agent['name'] == 'Billing')
    for billing_id in billing:
        expect('Billing (%s): its name is shared by 2 agents' % billing_id in report, 'a Billing agent is not reported', report)
    expect('numbers: +19499800004' in report, 'the route to a Billing agent is not reported', report)
    expect('+19499800006 to +19499800010 (5 numbers)' in report and '+14155550001 to +14155551499 (1499 numbers)' in report,
           'the unrouted numbers are not reported', report)


def plan(_emulator, directory, drift, *rows):
    """plan.json has exactly these rows: environment,action,phone_number,before-agent,after-agent; drift is the flag of a
    --check run (drift or clean), or applied for the report of a real run. Rows whose environment is * are compared
    without it (every row then is); a wanted field may list the values it accepts as a|b."""
    with open(os.path.join(directory, 'plan.json'), encoding='utf-8') as handle:
        data = json.load(handle)
    expect(data['schema_version'] == 2 and data['mode'] == ('apply' if drift == 'applied' else 'check'), 'plan header differs', data)
    if drift != 'applied':
        expect(data['drift'] == (drift == 'drift'), 'drift flag differs', data['drift'])
        expect(data['status'] == ('drift' if drift == 'drift' else 'no_drift'), 'run status differs', data['status'])
    got = []
    for environment in data['environments']:
        for change in environment['changes']:
            before = (change['before'] or {}).get('agent') or (change['before'] or {}).get('name') or '-'
            after = (change['after'] or {}).get('agent') or (change['after'] or {}).get('name') or '-'
            # An agent only known by id (renamed behind the inventory's back) has an id the test cannot know.
            before, after = (re.sub(r'^agent_[0-9a-f]+$', 'agent_id', text) for text in (before, after))
            got.append('%s,%s,%s,%s,%s' % (environment['environment'], change['action'], change['phone_number'] or '-', before, after))
    if any(row.startswith('*,') for row in rows):
        got = ['*,' + row.split(',', 1)[1] for row in got]
    unmatched = list(got)
    for row in rows:
        match = next((item for item in unmatched if row_matches(row, item)), None)
        if match is not None:
            unmatched.remove(match)
    expect(len(got) == len(rows) and not unmatched, 'plan rows differ', *(['got:'] + sorted(got) + ['wanted:'] + sorted(rows)))
    with open(os.path.join(directory, 'plan.md'), encoding='utf-8') as handle:
        table = handle.read()
    expect('| environment | agent | number | before | after | action |' in table, 'plan.md has no table', table)


# Names that YAML reads as a boolean, null or number when written bare, and an agent mid-rotation: a successor made by
# hand as the rotation names it, <name>--rotating-<old id>, with one of the two numbers already moved to it.
SPECIAL_NAMES = ['On', 'No', 'Null', 'Yes', 'True', '1e3']
SPECIAL_HOSTS = {'on': 'On', 'no': 'No', 'null': 'Null', 'yes': 'Yes', 'true': 'True', 'agent-1e3': '1e3'}


def seed_special(emulator):
    emulator.reset()
    for name in SPECIAL_NAMES:
        emulator.api('POST', 'ai-agents', {'name': name, 'language': 'en-US'})
    old = emulator.api('POST', 'ai-agents', {'name': 'prod-support-agent', 'language': 'en-IN'})
    successor = emulator.api('POST', 'ai-agents', {'name': 'prod-support-agent--rotating-' + old['id'], 'language': 'en-IN'})
    route(emulator, '+19499800001', old['id'])
    route(emulator, '+19499800002', successor['id'])


def special_exported(_emulator, listing):
    """ansible-inventory --list of the export of seed-special: every name read back as written, prod as after its rotation."""
    with open(listing, encoding='utf-8') as handle:
        inventory = json.load(handle)
    hosts = sorted(inventory['piopiy_environments']['hosts'])
    expect(hosts == sorted(list(SPECIAL_HOSTS) + ['prod']), 'hosts differ', hosts)
    variables = inventory['_meta']['hostvars']
    for host, name in SPECIAL_HOSTS.items():
        expect(variables[host].get('support_agent_name') == name, 'the name of %s does not read back' % host, variables[host])
        expect(variables[host].get('support_agent_allow_empty') is True, 'the variables of %s do not read back' % host, variables[host])
    prod = dict((key, value) for key, value in variables['prod'].items() if key.startswith('support_agent_') and key != 'support_agent_api_key'
                and key != 'support_agent_api_base')
    expect(prod == {'support_agent_language': 'en-IN', 'support_agent_phone_numbers': ['+19499800001', '+19499800002']},
           'prod is not exported as after its rotation', prod)


def finish_rotation(emulator, name):
    """What the rotation's end does: every number of the old agent to the successor, the old agent deleted, the successor renamed."""
    (old,) = [agent for agent in agents(emulator) if agent['name'] == name]
    (successor,) = [agent for agent in agents(emulator) if agent['name'].startswith(name + '--rotating-')]
    numbers = [item['phone_number'] for item in emulator.workspace(WORKSPACE)['routes'] if item.get('agent_id') == old['id']]
    for number in numbers:
        route(emulator, number, successor['id'])
    emulator.api('DELETE', 'ai-agents/' + old['id'])
    emulator.api('PATCH', 'ai-agents/' + successor['id'], {'name': name})


def row_matches(wanted, got):
    """Whether a plan row is the wanted one, each wanted field being one value or several as a|b."""
    wanted_fields, got_fields = wanted.split(','), got.split(',')
    return len(wanted_fields) == len(got_fields) and all(value in field.split('|') for field, value in zip(wanted_fields, got_fields))


def gate(_emulator, directory, status, drift, *environments):
    """plan.json says this run status and drift flag (true, false or null), and these environment=status pairs;
    plan.md never says that every environment matches unless the status is no_drift."""
    with open(os.path.join(directory, 'plan.json'), encoding='utf-8') as handle:
        data = json.load(handle)
    expect((data['status'], json.dumps(data['drift'])) == (status, drift), 'run status and drift differ', data)
    got = sorted('%s=%s' % (environment['environment'], environment['status']) for environment in data['environments'])
    expect(got == sorted(environments), 'environment statuses differ', got, sorted(environments))
    with open(os.path.join(directory, 'plan.md'), encoding='utf-8') as handle:
        text = handle.read()
    expect(('every environment matches' in text) == (status == 'no_drift'), 'plan.md summary does not fit the status', text)


COMMANDS = {'gate': gate, 'seed': seed, 'seed-special': seed_special, 'special-exported': special_exported, 'finish-rotation': finish_rotation,
            'behind-the-back': behind_the_back, 'no-secrets': no_secrets, 'exported': exported, 'plan': plan}


if __name__ == '__main__':
    sys.exit(main(COMMANDS, sys.argv))
