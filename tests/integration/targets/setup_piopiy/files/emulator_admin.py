# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the integration targets' check scripts share: a client of the emulator's /__emulator__/ test API (and of its
/v1 API with the config's key, to make things by hand), the Mismatch/expect pair they fail with, and their command
line, SCRIPT CONFIG COMMAND ARGS..., CONFIG being the integration config (emulator URL and keys).

A target that uses it names `needs/target/setup_piopiy` in its aliases; its scripts import it from
../setup_piopiy/files/. Run on its own, it serves the commands of ADMIN_COMMANDS:
    emulator_admin.py CONFIG reset|clear-log|no-writes|faults JSON|requests METHOD
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

import yaml


class Mismatch(Exception):
    pass


def expect(condition, what, *details):
    if not condition:
        raise Mismatch(what + ''.join('\n  %r' % (detail,) for detail in details))


class Emulator:
    def __init__(self, config_path):
        with open(config_path, encoding='utf-8') as handle:
            self.config = yaml.safe_load(handle)
        self.url = self.config['piopiy_emulator_url']
        self.key = self.config['piopiy_api_key']

    def _send(self, method, url, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode('utf-8')
        request = urllib.request.Request(url, data=data, method=method, headers=dict({'Content-Type': 'application/json'}, **(headers or {})))
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
        return json.loads(text) if text else {}

    def admin(self, method, path, body=None):
        """A call to the test API, /__emulator__/PATH."""
        return self._send(method, self.url + '/__emulator__/' + path, body)

    def api(self, method, path, body=None):
        """A call to the API, /v1/PATH, with the config's key: what a person in the dashboard would do."""
        return self._send(method, self.url + '/v1/' + path, body, {'Authorization': 'Bearer ' + self.key})

    def reset(self):
        """Back to the seed: no agents, no routes, no faults, an empty request log."""
        self.admin('POST', 'reset')

    def clear_log(self):
        self.admin('DELETE', 'requests')

    def set_faults(self, faults):
        self.admin('PUT', 'faults', faults)

    def log(self):
        """Every API request since the log was cleared: method, path, query, status, workspace."""
        return self.admin('GET', 'requests')['requests']

    def writes(self):
        return [entry for entry in self.log() if entry['method'] != 'GET']

    def tokens(self):
        """Every agent token the emulator has issued."""
        return self.admin('GET', 'tokens')['tokens']

    def workspaces(self):
        return self.admin('GET', 'state')['workspaces']

    def workspace(self, workspace):
        return next(item for item in self.workspaces() if item['id'] == workspace)

    def api_keys(self):
        """Every API key of the config: secrets, as the tokens are."""
        return [value for name, value in sorted(self.config.items()) if name.endswith('api_key')]


def leaked(secrets, text):
    """The secrets that text (str or bytes) holds."""
    return [secret for secret in secrets if (secret.encode('utf-8') if isinstance(text, bytes) else secret) in text]


def no_writes(emulator):
    """No POST, PATCH or DELETE since the log was cleared."""
    writes = emulator.writes()
    expect(not writes, 'the run wrote to the API', *writes)


def count_requests(emulator, method):
    """Prints how many requests with this method the emulator logged since the log was cleared."""
    print(sum(1 for entry in emulator.log() if entry['method'] == method))


ADMIN_COMMANDS = {
    'reset': Emulator.reset,
    'clear-log': Emulator.clear_log,
    'faults': lambda emulator, faults: emulator.set_faults(json.loads(faults)),
    'no-writes': no_writes,
    'requests': count_requests,
}


def main(commands, argv):
    """Runs SCRIPT CONFIG COMMAND ARGS...: commands[COMMAND](Emulator(CONFIG), *ARGS), each command being one of
    ADMIN_COMMANDS or of commands. Returns the exit status: 1, with the difference on stderr, on a Mismatch."""
    if len(argv) < 3:
        sys.stderr.write('usage: %s CONFIG COMMAND ARGS...\n' % os.path.basename(argv[0]))
        return 2
    config, command = argv[1], argv[2]
    known = dict(ADMIN_COMMANDS)
    known.update(commands)
    if command not in known:
        sys.stderr.write('%s: no command %s; the commands: %s\n' % (os.path.basename(argv[0]), command, ', '.join(sorted(known))))
        return 2
    try:
        known[command](Emulator(config), *argv[3:])
    except Mismatch as error:
        sys.stderr.write('%s %s: %s\n' % (os.path.basename(argv[0]), command, error))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main({}, sys.argv))
