# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fail when any byte of the given files holds an API key or an agent token the emulator issued.

Usage: check_secrets.py CONFIG FILE...
CONFIG is the integration config (emulator URL and keys); the emulator is read with
../setup_piopiy/files/emulator_admin.py. Also checks that the
run really exercised what it claims: tokens were issued, and errors were
answered while the emulator echoed credentials.
"""

from __future__ import annotations

import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_piopiy', 'files'))
from emulator_admin import Emulator, leaked  # pylint: disable=wrong-import-position

WRONG_KEY = 'pk_wrong_leak_check_key'
HERE = os.path.dirname(os.path.abspath(__file__))


def hostile_keys():
    """The wrong keys of hostile_keys.yml, and the fragments of them that must appear nowhere."""
    with open(os.path.join(HERE, 'hostile_keys.yml'), encoding='utf-8') as handle:
        data = yaml.safe_load(handle)
    return data['leak_hostile_keys'], data['leak_hostile_fragments']


def main(config_path, *paths):
    emulator = Emulator(config_path)
    tokens = emulator.tokens()
    errors = [entry for entry in emulator.log() if entry['status'] in (401, 403, 404, 409)]
    hostile, fragments = hostile_keys()
    # A fragment catches a key in any form (escaped, encoded, re-decoded) and a key cut in two (Bearer ********:Zq9f...).
    secrets = emulator.api_keys() + [WRONG_KEY] + hostile + fragments + tokens
    problems = []
    if len(tokens) < 4:
        problems.append('expected at least 4 issued tokens, the emulator issued %d' % len(tokens))
    # No 409 any more: piopiy_agent reads an agent's routes and refuses the delete the API would refuse, before sending it.
    if {entry['status'] for entry in errors} != {401, 403, 404}:
        problems.append('expected 401, 403 and 404 answers, got %s' % sorted({entry['status'] for entry in errors}))
    unauthorized = sum(1 for entry in errors if entry['status'] == 401)
    if unauthorized < 2 + 2 * len(hostile):
        problems.append('expected the hostile keys to be sent twice each (JSON and text errors), got %d 401 answers' % unauthorized)
    for path in paths:
        with open(path, 'rb') as handle:
            content = handle.read()
        if not content:
            problems.append('%s is empty' % path)
        for secret in leaked(secrets, content):
            problems.append('%s holds a secret (%s...)' % (path, secret[:8]))
    for problem in problems:
        print('FAIL: ' + problem)
    print('checked %d file(s) for %d secret(s), %d of them agent tokens' % (len(paths), len(secrets), len(tokens)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
