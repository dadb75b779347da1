# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks the emulator's state and request log after runme.sh's fleet runs.

Usage: check_fleet.py CONFIG COMMAND ARGS..., CONFIG being the integration config (it names the emulator), COMMAND one
of COMMANDS or of ../setup_piopiy/files/emulator_admin.py's (reset, clear-log, faults, no-writes...).
Exits non-zero with the first difference found.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_piopiy', 'files'))
from emulator_admin import expect, main  # pylint: disable=wrong-import-position

WORKSPACE = 'ws_acme'
ROUTES = '/v1/phone-number-routing'
AGENTS = '/v1/ai-agents'


def routing(emulator, workspace=WORKSPACE):
    """{number: agent name} of every route."""
    state = emulator.workspace(workspace)
    names = dict((agent['id'], agent['name']) for agent in state['agents'])
    return dict((route['phone_number'], names.get(route['agent_id'], route['agent_id'])) for route in state['routes'])


def agent_names(emulator, workspace=WORKSPACE):
    return sorted(agent['name'] for agent in emulator.workspace(workspace)['agents'])


def check_moves(emulator, shift):
    """Environment i's two numbers are those of environment i + shift; one agent per environment; maps before unmaps."""
    shift = int(shift)
    expected = {}
    for index in range(20):
        owner = (index + shift) % 20
        for offset in (0, 1):
            expected['+141555500%02d' % (2 * owner + offset)] = 'move%02d-support-agent' % index
    names = [name for name in agent_names(emulator) if name.startswith('move')]
    expect(names == sorted('move%02d-support-agent' % index for index in range(20)), 'one agent per environment', names)
    routed = dict((number, name) for number, name in routing(emulator).items() if number in expected)
    expect(routed == expected, 'every number routed as the fleet says', sorted(set(routed.items()) ^ set(expected.items())))
    check_maps_before_unmaps(emulator)


def check_maps_before_unmaps(emulator):
    writes = [(entry['method'], entry['status']) for entry in emulator.log() if entry['path'].startswith(ROUTES) and entry['method'] != 'GET']
    maps = [index for index, (method, status) in enumerate(writes) if method == 'POST' and status < 300]
    unmaps = [index for index, (method, status) in enumerate(writes) if method == 'DELETE']
    expect(not maps or not unmaps or max(maps) < min(unmaps), 'every map before any unmap', writes)


def check_one_agent(emulator, name, *numbers):
    """Exactly one agent with the name, and every number routed to it."""
    names = agent_names(emulator)
    expect(names.count(name) == 1, 'exactly one agent named %s' % name, names)
    routed = routing(emulator)
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
    routed = routing(emulator)
    expect(routed.get('+19499800001') == 'fleet-dev-support-agent' and routed.get('+19499800002') == 'fleet-dev-support-agent',
           'fleet-dev routed', routed)
    if limited == 'limited':
        expect('fleet-staging-support-agent' not in agent_names(emulator), '--limit left staging alone', agent_names(emulator))
        return
    expect(routed.get('+19499800003') == 'fleet-staging-support-agent' and routed.get('+19499800004') == 'fleet-prod-line',
           'staging and prod routed', routed)
    languages = dict((agent['name'], agent['language']) for agent in emulator.workspace(WORKSPACE)['agents'])
    expect(languages.get('fleet-staging-support-agent') == 'en-IN', 'staging in en-IN', languages)
    expect(routing(emulator, 'ws_other').get('+442071230001') == 'fleet-other-support-agent', 'the other workspace routed',
           routing(emulator, 'ws_other'))


def check_routed(emulator, *pairs):
    """Each NUMBER=AGENT NAME routed so in ws_acme; NUMBER=- has no route."""
    routed = routing(emulator)
    for pair in pairs:
        number, name = pair.split('=', 1)
        expect(routed.get(number) == (None if name == '-' else name), '%s routed to %s' % (number, name), routed)


def check_agents(emulator, prefix, *names):
    """The agents of ws_acme whose name starts with prefix are exactly these names, one agent each."""
    got = [name for name in agent_names(emulator) if name.startswith(prefix)]
    expect(got == sorted(names), 'the agents %s*' % prefix, got, sorted(names))


def check_token_file(emulator, path, name):
    """An env file of mode 0600 that holds the id of the one agent with this name and a token the emulator issued to it."""
    expect(os.stat(path).st_mode & 0o777 == 0o600, 'mode 0600', oct(os.stat(path).st_mode))
    with open(path, encoding='utf-8') as handle:
        values = dict(line.split('=', 1) for line in handle.read().splitlines() if '=' in line and not line.startswith('#'))
    ids = [agent['id'] for agent in emulator.workspace(WORKSPACE)['agents'] if agent['name'] == name]
    expect(len(ids) == 1 and values.get('AGENT_ID') == ids[0], 'the env file names agent %s' % name, values.get('AGENT_ID'), ids)
    expect(values.get('AGENT_TOKEN') in emulator.tokens(), 'the env file holds a token the emulator issued')


def check_no_purchase(emulator):
    """No number bought since the log was cleared (a refused run may still have finished a rotation it resumed)."""
    bought = [entry['path'] for entry in emulator.log() if entry['method'] == 'POST' and entry['path'].endswith('/buy-phone-number')]
    expect(not bought, 'no number bought', bought)


def check_other_untouched(emulator, name, *numbers):
    """ws_other has no agent of this name and none of these numbers routed: a refused run wrote nothing there."""
    expect(name not in agent_names(emulator, 'ws_other'), 'no agent %s in ws_other' % name, agent_names(emulator, 'ws_other'))
    routed = routing(emulator, 'ws_other')
    expect(not [number for number in numbers if number in routed], 'none of %s routed in ws_other' % ', '.join(numbers), routed)


COMMANDS = {
    'routed': check_routed,
    'agents': check_agents,
    'token-file': check_token_file,
    'moves': check_moves,
    'one-agent': check_one_agent,
    'saw-429': check_saw_429,
    'agent-writes': check_agent_writes,
    'fleet-playbook': check_fleet_playbook,
    'no-purchase': check_no_purchase,
    'other-untouched': check_other_untouched,
}


if __name__ == '__main__':
    sys.exit(main(COMMANDS, sys.argv))
