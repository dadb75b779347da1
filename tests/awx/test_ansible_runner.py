# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The support-agent playbook run through ansible-runner the way AWX runs a job, against the emulator.

AWX lays out a private data dir (project/, inventory/, env/), and its credential injectors hand the job its
secrets as environment variables, which ansible-runner writes to env/envvars and exports to ansible-playbook.
The playbook must succeed with the key from the environment alone, the audit records must reach the job's
events, and nothing the runner writes (artifacts: job_events, stdout, command, status) may hold the key or
an agent token the emulator issued (ansible-runner's own record of the job's environment aside).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys

import ansible_runner
import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
API_KEY = 'pk_test_acme_0001'
AUDIT_TAG = 'piopiy.voice.audit: '


def load_sibling(directory, name):
    spec = importlib.util.spec_from_file_location('piopiy_' + name, ROOT / 'tests' / directory / (name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_injectors(inputs):
    return load_sibling('awx', 'test_credential_type').render_injectors(inputs)


def unit_conftest():
    """The unit tests' emulator starter, so both suites start the emulator one way."""
    return load_sibling('unit', 'conftest')


@pytest.fixture(scope='module')
def emulator_url(tmp_path_factory):
    process, url = unit_conftest().start_emulator(tmp_path_factory.mktemp('emulator') / 'state.sqlite')
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


@pytest.fixture(scope='module')
def collections_path(tmp_path_factory):
    """The collection built from this tree and installed, as an execution environment or a project's requirements would."""
    dist, target = tmp_path_factory.mktemp('dist'), tmp_path_factory.mktemp('collections')
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'build', '--output-path', str(dist)], cwd=ROOT, check=True, capture_output=True)
    tarball, = dist.glob('piopiy-voice-*.tar.gz')
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', str(tarball), '-p', str(target)], check=True, capture_output=True)
    return target


def awx_private_data_dir(root, emulator_url, collections_path, audit_log):
    """project/ with the playbook, inventory/ as AWX writes it, and the credential's injected environment."""
    (root / 'project').mkdir(parents=True)
    shutil.copy(ROOT / 'playbooks' / 'support_agent.yml', root / 'project' / 'support_agent.yml')
    inventory = {'piopiy_environments': {'hosts': {'dev': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
        'support_agent_phone_numbers': ['+19499800001', '+19499800002']}}}}
    # What the piopiy.voice credential type's injectors give the job (docs/awx/credential-type-injectors.yml).
    envvars = render_injectors({'piopiy_api_key': API_KEY, 'piopiy_api_base': emulator_url + '/v1'})
    envvars.update({
        # What the job template's environment would set: the collection, and the audit trail kept in the job's events.
        'ANSIBLE_COLLECTIONS_PATH': str(collections_path), 'ANSIBLE_CALLBACKS_ENABLED': 'piopiy.voice.audit',
        'PIOPIY_AUDIT_DISPLAY': 'true', 'PIOPIY_AUDIT_LOG': str(audit_log), 'ANSIBLE_NOCOLOR': '1',
        'PATH': '%s:%s' % (BIN, os.environ.get('PATH', '')),
    })
    return inventory, envvars


def files_the_runner_wrote(root):
    """Every file under the private data dir but the job's inputs in env/ (AWX deletes the dir after the job)."""
    return [path for path in root.rglob('*') if path.is_file() and path.relative_to(root).parts[0] != 'env']


@pytest.fixture(scope='module')
def job(tmp_path_factory, emulator_url, collections_path):
    requests.post(emulator_url + '/__emulator__/reset', timeout=10).raise_for_status()
    work = tmp_path_factory.mktemp('job')
    root, audit_log = work / 'private_data_dir', work / 'audit.jsonl'
    inventory, envvars = awx_private_data_dir(root, emulator_url, collections_path, audit_log)
    runner = ansible_runner.run(private_data_dir=str(root), playbook='support_agent.yml', inventory=inventory, envvars=envvars,
                                quiet=True, ident='job-1')
    tokens = requests.get(emulator_url + '/__emulator__/tokens', timeout=10).json()['tokens']
    return {'runner': runner, 'root': root, 'audit_log': audit_log, 'tokens': tokens}


def test_the_job_succeeds_with_the_key_from_the_injected_environment(job):
    runner = job['runner']
    assert (runner.status, runner.rc) == ('successful', 0), runner.stdout.read()[-3000:]
    assert json.loads((job['root'] / 'env' / 'envvars').read_text(encoding='utf-8'))['PIOPIY_API_KEY'] == API_KEY
    assert runner.stats['changed'] == {'dev': 1}
    assert job['tokens'], 'the run created an agent, so the emulator issued a token'


def holders(paths, root, needles):
    return sorted(str(path.relative_to(root)) for path in paths for needle in needles if needle in path.read_text(encoding='utf-8', errors='replace'))


def test_no_file_the_runner_wrote_holds_a_token_or_the_key(job):
    written = files_the_runner_wrote(job['root'])
    names = {path.name for path in written}
    assert {'stdout', 'status', 'rc', 'command'} <= names and any(path.parent.name == 'job_events' for path in written)
    assert not holders(written, job['root'], job['tokens'])
    # ansible-runner itself records the job's whole environment, injected credentials included, in artifacts/<ident>/command,
    # readable by its owner only. AWX keeps that environment with secret-looking variables masked and deletes the private
    # data dir after the job. Every other file, job events and stdout included, must be clean.
    command = job['root'] / 'artifacts' / 'job-1' / 'command'
    assert holders(written, job['root'], [API_KEY]) == ['artifacts/job-1/command']
    assert json.loads(command.read_text(encoding='utf-8'))['env']['PIOPIY_API_KEY'] == API_KEY
    assert stat.S_IMODE(command.stat().st_mode) == 0o600


def test_the_audit_records_are_in_the_job_events(job):
    shown = [event.get('stdout', '') for event in job['runner'].events]
    records = [json.loads(line[len(AUDIT_TAG):]) for text in shown for line in text.splitlines() if line.startswith(AUDIT_TAG)]
    with open(job['audit_log'], encoding='utf-8') as handle:
        logged = [json.loads(line) for line in handle]
    assert [record['operation'] for record in records] == ['create', 'map', 'map']
    assert records == logged


def test_the_drift_gate_status_is_the_jobs_rc(job, tmp_path, emulator_url, collections_path):
    """ansible-runner runs ansible-playbook as a child process, so the plan callback's drift status (set by replacing
    sys.exit in that process: ansible-core gives callbacks no public way to set it) is the job's rc, and plan.json agrees."""
    root, plan_dir = tmp_path / 'private_data_dir', tmp_path / 'plan'
    inventory, envvars = awx_private_data_dir(root, emulator_url, collections_path, tmp_path / 'audit.jsonl')
    # The job above routed two numbers to dev; a third in the inventory is drift.
    inventory['piopiy_environments']['hosts']['dev']['support_agent_phone_numbers'].append('+19499800003')
    envvars.update({'ANSIBLE_CALLBACKS_ENABLED': 'piopiy.voice.plan', 'PIOPIY_PLAN_DIR': str(plan_dir)})
    runner = ansible_runner.run(private_data_dir=str(root), playbook='support_agent.yml', inventory=inventory, envvars=envvars,
                                cmdline='--check', quiet=True, ident='drift')
    assert (runner.status, runner.rc) == ('failed', 16), runner.stdout.read()[-3000:]
    plan = json.loads((plan_dir / 'plan.json').read_text(encoding='utf-8'))
    assert (plan['status'], plan['drift'], plan['change_count']) == ('drift', True, 1)
