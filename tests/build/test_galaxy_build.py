# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection builds, installs with ansible-galaxy, and documents every plugin through ansible-doc."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def run(*command, env=None):
    return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """Build the collection tarball and install it into an empty collections path."""
    dist = tmp_path_factory.mktemp('dist')
    target = tmp_path_factory.mktemp('collections')
    run(str(BIN / 'ansible-galaxy'), 'collection', 'build', '--output-path', str(dist))
    tarball, = dist.glob('piopiy-voice-*.tar.gz')
    run(str(BIN / 'ansible-galaxy'), 'collection', 'install', str(tarball), '-p', str(target))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false')
    return {'tarball': tarball, 'env': env, 'path': target / 'ansible_collections' / 'piopiy' / 'voice'}


def shipped_plugins():
    """(ansible-doc type, name) of every module, callback, filter and role in the tree."""
    def stems(folder):
        return sorted(path.stem for path in (ROOT / 'plugins' / folder).glob('*.py') if path.stem != '__init__')
    roles = sorted(path.name for path in (ROOT / 'roles').iterdir() if path.is_dir())
    filters = sorted(path.stem for path in (ROOT / 'plugins' / 'filter').glob('*.yml'))
    return ([('module', name) for name in stems('modules')] + [('callback', name) for name in stems('callback')]
            + [('filter', name) for name in filters] + [('role', name) for name in roles])


def ansible_doc(installed, kind, name):
    output = run(str(BIN / 'ansible-doc'), '-j', '-t', kind, 'piopiy.voice.' + name, env=installed['env'])
    return json.loads(output).get('piopiy.voice.' + name)


def test_tarball_leaves_out_caches_and_build_outputs(installed):
    with tarfile.open(installed['tarball']) as tarball:
        names = tarball.getnames()
    assert 'MANIFEST.json' in names and 'plugins/modules/piopiy_agent.py' in names
    for unwanted in ('.venv', '.git', 'build', 'tests/output', '.pytest_cache', '.ansible', 'Makefile'):
        assert not any(name == unwanted or name.startswith(unwanted + '/') for name in names), unwanted
    assert not any('__pycache__' in name.split('/') or name.endswith('.pyc') for name in names)


@pytest.mark.parametrize('kind,name', shipped_plugins())
def test_every_plugin_is_documented_by_ansible_doc(installed, kind, name):
    doc = ansible_doc(installed, kind, name)
    assert doc, 'ansible-doc printed nothing for %s %s' % (kind, name)
    if kind == 'role':
        assert doc['entry_points']['main']['options']
        return
    assert doc['doc']['short_description']
    if kind == 'module':
        assert 'api_key' in doc['doc']['options'], 'the connection doc fragment is missing'
        assert doc['examples'].strip()
        assert doc['return']


@pytest.mark.parametrize('playbook', sorted(path.stem for path in (ROOT / 'playbooks').glob('*.yml')))
def test_every_playbook_runs_by_fqcn_from_the_installed_collection(installed, playbook):
    listed = run(str(BIN / 'ansible-playbook'), '-i', str(ROOT / 'playbooks' / 'inventory'), '--list-tasks', 'piopiy.voice.' + playbook,
                 env=installed['env'])
    # export runs on localhost; every other playbook on the inventory's environments.
    assert ('localhost' if playbook == 'export' else 'piopiy_environments') in listed
    assert str(installed['path']) in run(str(BIN / 'ansible-playbook'), '-i', str(ROOT / 'playbooks' / 'inventory'), '--syntax-check', '-v',
                                         'piopiy.voice.' + playbook, env=installed['env'])
