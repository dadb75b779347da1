# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks the emulator's state and request log after runme.sh's fleet runs.

Usage: check_fleet.py CONFIG COMMAND ARGS..., CONFIG being the integration config (it names the emulator).
Exits non-zero with the first difference found.
"""

from __future__ import annotations

import json
import sys
import urllib.request

import yaml

WORKSPACE = 'ws_acme'
ROUTES = '/v1/phone-number-routing'
AGENTS = '/v1/ai-agents'


class Mismatch(Exception):
    pass


def expect(condition, what, *details):
    if not condition:
        raise Mismatch(what + ''.join('\n  %r' % (detail,) for detail in details))


class Emulator:
    def __init__(self, config):
        with open(config, encoding='utf-8') as handle:
            self.url = yaml.safe_load(handle)['piopiy_emulator_url']

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode('utf-8')
        request = urllib.request.Request(self.url + '/__emulator__/' + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def workspace(self, workspace=WORKSPACE):
        return next(item for item in self.call('GET', 'state')['workspaces'] if item['id'] == workspace)

    def routed(self, workspace=WORKSPACE):
        """{number: agent name} of every route."""
        state = self.workspace(workspace)
        names = dict((agent['id'], agent['name']) for agent in state['agents'])
        return dict((route['phone_number'], names.get(route['agent_id'], route['agent_id'])) for route in state['routes'])

    def agent_names(self, workspace=WORKSPACE):
        return sorted(agent['name'] for agent in self.workspace(workspace)['agents'])

    def log(self):
        return self.call('GET', 'requests')['requests']


def check_moves(emulator, shift):
    """Environment i's two numbers are those of environment i + shift; one agent per environment; maps before unmaps."""
    shift = int(shift)
    expected = {}
    for index in range(20):
        owner = (index + shift) % 20
        for offset in (0, 1):
            expected['+141555500%02d' % (2 * owner + offset)] = 'move%02d-support-agent' % index
    names = [name for name in emulator.agent_names() if name.startswith('move')]
    expect(names == sorted('move%02d-support-agent' % index for index in range(20)), 'one agent per environment', names)
    routed = dict((number, name) for number, name in emulator.routed().items() if number in expected)
    expect(routed == expected, 'every number routed as the fleet says', sorted(set(routed.items()) ^ set(expected.items())))
    check_maps_before_unmaps(emulator)


def check_maps_before_unmaps(emulator):
    writes = [(entry['method'], entry['status']) for entry in emulator.log() if entry['path'].startswith(ROUTES) and entry['method'] != 'GET']
    maps = [index for index, (method, status) in enumerate(writes) if method == 'POST' and status < 300]
    unmaps = [index for index, (method, status) in enumerate(writes) if method == 'DELETE']
    expect(not maps or not unmaps or max(maps) < min(unmaps), 'every map before any unmap', writes)


def check_no_writes(emulator):
    writes = [entry for entry in emulator.log() if entry['method'] != 'GET']
    expect(not writes, 'no write at all', writes)


def check_one_agent(emulator, name, *numbers):
    """Exactly one agent with the name, and every number routed to it."""
    names = emulator.agent_names()
    expect(names.count(name) == 1, 'exactly one agent named %s' % name, names)
    routed = emulator.routed()
    expect(all(routed.get(number) == name for number in numbers), 'every number routed to %s' % name, routed)


def check_agent_writes(emulator, creates, deletes):
    """Exactly so many agents created and deleted since the log was cleared: runs that took turns created once, merged nothing."""
    writes = [entry['method'] for entry in emulator.log() if entry['path'].startswith(AGENTS) and entry['status'] < 300]
    expect((writes.count('POST'), writes.count('DELETE')) == (int(creates), int(deletes)),
           '%s agent create(s) and %s delete(s)' % (creates, deletes), writes)


def check_saw_429(emulator, at_least):
    refused = [entry for entry in emulator.log() if entry['status'] == 429]
    expect(len(refused) >= int(at_least), 'at least %s answers 429' % at_least, len(refused))


def check_fleet_playbook(emulator, limited):
    """playbooks/fleet.yml over the inventory: three environments in ws_acme, one in ws_other (unless --limit left it out)."""
    routed = emulator.routed()
    expect(routed.get('+19499800001') == 'fleet-dev-support-agent' and routed.get('+19499800002') == 'fleet-dev-support-agent',
           'fleet-dev routed', routed)
    if limited == 'limited':
        expect('fleet-staging-support-agent' not in emulator.agent_names(), '--limit left staging alone', emulator.agent_names())
        return
    expect(routed.get('+19499800003') == 'fleet-staging-support-agent' and routed.get('+19499800004') == 'fleet-prod-line',
           'staging and prod routed', routed)
    languages = dict((agent['name'], agent['language']) for agent in emulator.workspace()['agents'])
    expect(languages.get('fleet-staging-support-agent') == 'en-IN', 'staging in en-IN', languages)
    expect(emulator.routed('ws_other').get('+442071230001') == 'fleet-other-support-agent', 'the other workspace routed',
           emulator.routed('ws_other'))


COMMANDS = {
    'reset': lambda emulator: emulator.call('POST', 'reset'),
    'clear-log': lambda emulator: emulator.call('DELETE', 'requests'),
    'faults': lambda emulator, faults: emulator.call('PUT', 'faults', json.loads(faults)),
    'moves': check_moves,
    'no-writes': check_no_writes,
    'one-agent': check_one_agent,
    'saw-429': check_saw_429,
    'agent-writes': check_agent_writes,
    'fleet-playbook': check_fleet_playbook,
}


def main(argv):
    config, command = argv[1], argv[2]
    try:
        COMMANDS[command](Emulator(config), *argv[3:])
    except Mismatch as error:
        print('check_fleet.py %s: %s' % (command, error), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
