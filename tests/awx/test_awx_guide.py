# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWX guide (docs/awx.md) run the way AWX runs a job, against the emulator.

AWX copies the project (docs/awx/project/ stands for it) into the job's private data dir, writes the inventory,
renders the credentials' injectors into env/envvars (and, for a file injector, a file of the private data dir),
and runs ansible-runner on the playbook FILE the job template selects. Two environments use two workspaces, each
with its own key, from one "Piopiy Voice API keys" credential: AWX attaches at most one credential of a custom
type to a job template. The keys reach the job only as a file named by PIOPIY_API_KEYS_FILE, so no file the runner
writes holds one, not even ansible-runner's record of the job's environment. The drift job (project/drift.yml)
fails on drift, prints plan.md in the job's output and publishes plan.json as the job's artifacts; the plain
check job gives rc 16, which AWX shows as failed.

The tests share one emulator and run in file order, as the guide's steps do: the drift job and the check job
before the first apply, the apply, the drift job after it.
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
import jinja2
import pytest
import requests
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
AWX = ROOT / 'docs' / 'awx'
BIN = pathlib.Path(sys.executable).parent
KEYS = {'dev': 'pk_test_acme_0001', 'prod': 'pk_test_other_0001'}  # two workspaces of the emulator's seed


def load_sibling(directory, name):
    spec = importlib.util.spec_from_file_location('piopiy_' + name, ROOT / 'tests' / directory / (name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inject(credential_type, inputs, private_data_dir):
    """What AWX does with a credential of this type: the file injector written to the private data dir (mode 0600),
    then the env injectors rendered with its path as tower.filename. Returns the job's environment variables."""
    injectors = yaml.safe_load((AWX / ('%s-injectors.yml' % credential_type)).read_text(encoding='utf-8'))
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    context = dict(inputs)
    if 'file' in injectors:
        path = private_data_dir / 'env' / 'tmp_credential'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(environment.from_string(injectors['file']['template']).render(**inputs), encoding='utf-8')
        path.chmod(0o600)
        context['tower'] = {'filename': str(path)}
    return {name: environment.from_string(template).render(**context) for name, template in injectors['env'].items()}


@pytest.fixture(scope='module')
def emulator_url(tmp_path_factory):
    process, url = load_sibling('unit', 'conftest').start_emulator(tmp_path_factory.mktemp('emulator') / 'state.sqlite')
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


@pytest.fixture(scope='module')
def collections_path(tmp_path_factory):
    """The collection built from this tree and installed, as the execution environment has it."""
    dist, target = tmp_path_factory.mktemp('dist'), tmp_path_factory.mktemp('collections')
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'build', '--output-path', str(dist)], cwd=ROOT, check=True, capture_output=True)
    tarball, = dist.glob('piopiy-voice-*.tar.gz')
    subprocess.run([str(BIN / 'ansible-galaxy'), 'collection', 'install', str(tarball), '-p', str(target)], check=True, capture_output=True)
    return target


@pytest.fixture(scope='module')
def awx(tmp_path_factory, emulator_url, collections_path):
    """Runs one job as AWX would: a fresh private data dir with the project, the credential and the job's settings."""
    requests.post(emulator_url + '/__emulator__/reset', timeout=10).raise_for_status()
    jobs = []

    def run(playbook, job_type='run'):
        root = tmp_path_factory.mktemp('job') / 'private_data_dir'
        shutil.copytree(AWX / 'project', root / 'project')
        envvars = inject('credential-type-keys', {'piopiy_api_keys': yaml.safe_dump(KEYS), 'piopiy_api_base': emulator_url + '/v1'}, root)
        envvars.update({
            'ANSIBLE_COLLECTIONS_PATH': str(collections_path),  # the execution environment's collections
            'ANSIBLE_NOCOLOR': '1', 'PATH': '%s:%s' % (BIN, os.environ.get('PATH', '')),
        })
        # A job template of type "check" runs with --check, and "Show changes" adds --diff.
        cmdline = '--check --diff' if job_type == 'check' else '--diff'
        runner = ansible_runner.run(private_data_dir=str(root), playbook=playbook, inventory=str(root / 'project' / 'inventory'),
                                    envvars=envvars, cmdline=cmdline, quiet=True, ident='job')
        job = {'runner': runner, 'root': root, 'stdout': runner.stdout.read(), 'events': list(runner.events)}
        jobs.append(job)
        return job

    return run


def agents_of(emulator_url, key):
    response = requests.get(emulator_url + '/v1/ai-agents', headers={'Authorization': 'Bearer ' + key}, timeout=10)
    response.raise_for_status()
    return response.text


def artifacts_of(job):
    stats = [event for event in job['events'] if event.get('event') == 'playbook_on_stats']
    return stats[-1]['event_data'].get('artifact_data', {})


def files_holding(root, needles):
    return sorted({str(path.relative_to(root)) for path in root.rglob('*') if path.is_file()
                   for needle in needles if needle in path.read_text(encoding='utf-8', errors='replace')})


def test_one_credential_of_the_keys_type_gives_each_environment_its_key():
    inputs = yaml.safe_load((AWX / 'credential-type-keys-inputs.yml').read_text(encoding='utf-8'))
    (keys,) = [field for field in inputs['fields'] if field['id'] == 'piopiy_api_keys']
    assert keys['secret'] is True and keys['multiline'] is True and inputs['required'] == ['piopiy_api_keys']
    injectors = yaml.safe_load((AWX / 'credential-type-keys-injectors.yml').read_text(encoding='utf-8'))
    # The keys are a file of the private data dir; the environment names only its path.
    assert set(injectors['env']) == {'PIOPIY_API_KEYS_FILE', 'PIOPIY_API_BASE'}
    assert all('piopiy_api_keys' not in template for template in injectors['env'].values())


def test_the_drift_job_on_a_workspace_behind_the_inventory_fails_and_shows_the_plan(awx, emulator_url):
    job = awx('drift.yml')
    runner = job['runner']
    assert (runner.status, runner.rc) == ('failed', 2), job['stdout'][-3000:]
    assert 'The workspace drifted from the inventory' in job['stdout']
    # plan.md is in the job's output, a row per change, for the reviewer.
    assert '| dev |' in job['stdout'] and '+442071230001' in job['stdout'], job['stdout'][-3000:]
    artifacts = artifacts_of(job)
    assert artifacts['piopiy_drift'] is True
    plan = artifacts['piopiy_plan']
    assert plan['drift'] is True and plan['change_count'] > 0, plan
    assert '+19499800001' in json.dumps(plan) and '+442071230001' in json.dumps(plan), plan
    assert 'support-agent' not in agents_of(emulator_url, KEYS['dev']), 'the drift job wrote to the workspace'


def test_a_check_job_with_drift_ends_with_rc_16_which_awx_shows_as_failed(awx):
    job = awx('support_agent.yml', job_type='check')
    assert (job['runner'].status, job['runner'].rc) == ('failed', 16), job['stdout'][-3000:]


def test_the_job_applies_each_environment_with_its_own_key_and_no_file_holds_one(awx, emulator_url):
    job = awx('support_agent.yml')
    runner = job['runner']
    assert (runner.status, runner.rc) == ('successful', 0), job['stdout'][-3000:]
    assert 'dev-support-agent' in agents_of(emulator_url, KEYS['dev'])
    assert 'prod-support-agent' in agents_of(emulator_url, KEYS['prod'])
    assert 'prod-support-agent' not in agents_of(emulator_url, KEYS['dev'])
    keys_file = pathlib.Path(json.loads((job['root'] / 'env' / 'envvars').read_text(encoding='utf-8'))['PIOPIY_API_KEYS_FILE'])
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    # Every file of the private data dir but the credential's own: the job events, stdout, and even
    # artifacts/<job>/command, ansible-runner's record of the job's environment, which names the file, not the keys.
    assert files_holding(job['root'], KEYS.values()) == [str(keys_file.relative_to(job['root']))]
    assert not [value for value in KEYS.values() if value in job['stdout']]
    # The project's ansible.cfg prints the audit trail into the job's output.
    assert job['stdout'].count('piopiy.voice.audit: ') >= 6, job['stdout'][-3000:]


def test_the_drift_job_after_the_apply_succeeds_with_an_empty_plan(awx):
    job = awx('drift.yml')
    assert (job['runner'].status, job['runner'].rc) == ('successful', 0), job['stdout'][-3000:]
    artifacts = artifacts_of(job)
    assert artifacts['piopiy_drift'] is False
    assert (artifacts['piopiy_plan']['drift'], artifacts['piopiy_plan']['change_count']) == (False, 0), artifacts['piopiy_plan']
