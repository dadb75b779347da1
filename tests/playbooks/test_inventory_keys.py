# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shipped inventory's API keys: PIOPIY_<ENV>_API_KEY, else PIOPIY_API_KEY, else one clear error.

The playbooks run against the emulator in tests/utils/piopiy_env.sh (what `make shell` opens); the test reads
each host's failure (`fatal: [host]: FAILED! => {json}`) and its line of the play recap.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import stat
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
HELPER = ROOT / 'tests' / 'utils' / 'piopiy_env.sh'
ACME_KEY = 'pk_test_acme_0001'
OTHER_KEY = 'pk_test_other_0001'  # workspace ws_other, which owns none of the inventory's numbers
KEY_VARIABLES = ('PIOPIY_API_KEY', 'PIOPIY_DEV_API_KEY', 'PIOPIY_STAGING_API_KEY', 'PIOPIY_PROD_API_KEY')
# After the playbook, the emulator's request counts by method, so a test can tell that a run wrote nothing,
# or stopped before any request.
COUNT_REQUESTS = ('python -c "import json, os, urllib.request; '
                  "url = os.environ['PIOPIY_EMULATOR_URL'] + '/__emulator__/requests'; "
                  'print(\'REQUESTS=\' + json.dumps(json.load(urllib.request.urlopen(url))[\'counts\']))"')


def run_playbook(playbook, keys, *options):
    """Runs a playbook of playbooks/ with only the given key variables set; returns (output, request counts by method)."""
    unset = ' '.join('-u %s' % name for name in KEY_VARIABLES)
    assignments = ' '.join('%s=%s' % item for item in keys.items())
    script = 'env %s %s ansible-playbook -i playbooks/inventory playbooks/%s %s || true; %s' % (
        unset, assignments, playbook, ' '.join(options), COUNT_REQUESTS)
    done = subprocess.run([str(HELPER), 'bash', '-c', script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and 'REQUESTS=' in done.stdout, 'exit code %d:\n%s\n%s' % (done.returncode, done.stdout, done.stderr)
    output, counts = done.stdout.rsplit('REQUESTS=', 1)
    return output, json.loads(counts)


def failures(output):
    """{host: message} of every failed task."""
    return {match.group(1): json.loads(match.group(2))['msg']
            for match in re.finditer(r'^fatal: \[(\S+)\]: FAILED! => (\{.*\})$', output, re.MULTILINE)}


def recap(output):
    """{host: {'ok': n, 'changed': n, 'failed': n}} from the play recap."""
    return {match.group(1): {'ok': int(match.group(2)), 'changed': int(match.group(3)), 'failed': int(match.group(4))}
            for match in re.finditer(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)', output, re.MULTILINE)}


def test_each_environment_falls_back_to_piopiy_api_key_and_its_own_variable_wins():
    # dev: its variable unset; staging: set but empty; prod: set, to a workspace that owns none of prod's numbers.
    keys = {'PIOPIY_API_KEY': ACME_KEY, 'PIOPIY_STAGING_API_KEY': '""', 'PIOPIY_PROD_API_KEY': OTHER_KEY}
    output, requests = run_playbook('support_agent.yml', keys, '--check')
    # Two workspaces, each planned by one task on the play's first host: PIOPIY_API_KEY's, of dev and of staging (whose own
    # variable is empty), and PIOPIY_PROD_API_KEY's, ws_other, which alone can make prod's numbers unknown.
    assert re.search(r'^changed: \[dev\] => \(item=\S+: 2 environment\(s\)\)$', output, re.MULTILINE), output
    assert re.search(r'^failed: \[dev\] \(item=\S+: 1 environment\(s\)\) => .*environment prod: 3 number\(s\) are not purchased',
                     output, re.MULTILINE), output
    assert recap(output)['dev']['failed'] == 1, output
    assert ACME_KEY not in output and OTHER_KEY not in output
    assert requests['GET'] > 0 and requests['POST'] == requests['PATCH'] == requests['DELETE'] == 0, requests


def test_no_key_at_all_stops_before_any_request_and_names_every_empty_source():
    output, requests = run_playbook('support_agent.yml', {'PIOPIY_API_KEY': '""'}, '--limit', 'staging', '--check')
    message = failures(output)['staging']
    assert 'nothing was changed in any environment: No API key for the environment staging.' in message, message
    assert 'Empty or unset: support_agent_api_key, PIOPIY_STAGING_API_KEY, PIOPIY_API_KEY.' in message, message
    assert sum(requests.values()) == 0, requests


def test_list_agents_names_the_empty_sources_too():
    output, requests = run_playbook('list_agents.yml', {'PIOPIY_API_KEY': ACME_KEY}, '--limit', 'prod')
    assert failures(output) == {} and '(no agents)' in output and requests['GET'] > 0, output
    output, requests = run_playbook('list_agents.yml', {}, '--limit', 'prod')
    assert 'Empty or unset: support_agent_api_key, PIOPIY_PROD_API_KEY, PIOPIY_API_KEY.' in failures(output)['prod'], output
    assert sum(requests.values()) == 0, requests


def test_the_first_apply_keeps_every_new_agents_token_in_a_private_directory(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    output, requests = run_playbook('support_agent.yml', {'PIOPIY_API_KEY': ACME_KEY, 'HOME': str(home)})
    assert failures(output) == {} and requests['POST'] > 0, output
    tokens = home / '.config' / 'piopiy'
    assert stat.S_IMODE(os.stat(str(tokens)).st_mode) == 0o700 and stat.S_IMODE(os.stat(str(home / '.config')).st_mode) == 0o700
    files = sorted(path.name for path in tokens.iterdir())
    assert files == ['dev-support-agent.token', 'prod-support-agent.token', 'staging-support-agent.token'], files
    for path in tokens.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().startswith('agt_'), path
        assert path.read_text().strip() not in output
    assert 'token' not in ' '.join(line for line in output.splitlines() if line.startswith('[WARNING]')), output
