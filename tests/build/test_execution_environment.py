# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's execution-environment metadata, and ansible-builder on the example EE of docs/.

The image itself is built by tests/ee/build_and_run_demo.sh, by hand: it needs root, podman and a base image made
from Debian's packages, which CI does not have (docs/awx.md, "Built and run here").
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
EXAMPLE = ROOT / 'docs' / 'execution-environment'


def run(*command, cwd=ROOT):
    return subprocess.run([str(part) for part in command], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    dist = tmp_path_factory.mktemp('dist')
    run(BIN / 'ansible-galaxy', 'collection', 'build', '--output-path', dist)
    built, = dist.glob('piopiy-voice-*.tar.gz')
    return built


def test_the_metadata_names_the_requirement_files_at_the_root():
    metadata = yaml.safe_load((ROOT / 'meta' / 'execution-environment.yml').read_text(encoding='utf-8'))
    assert metadata == {'version': 1, 'dependencies': {'python': 'requirements.txt', 'system': 'bindep.txt'}}
    # The modules use Python's standard library only: the file names no package, and says so.
    python_requirements = [line for line in (ROOT / 'requirements.txt').read_text(encoding='utf-8').splitlines()
                           if line.strip() and not line.startswith('#')]
    assert python_requirements == []
    assert 'python3' in (ROOT / 'bindep.txt').read_text(encoding='utf-8')


def test_the_tarball_ships_the_metadata_and_its_files(tarball, tmp_path):
    run(BIN / 'ansible-galaxy', 'collection', 'install', tarball, '-p', tmp_path)
    installed = tmp_path / 'ansible_collections' / 'piopiy' / 'voice'
    for name in ('meta/execution-environment.yml', 'requirements.txt', 'bindep.txt'):
        assert (installed / name).is_file(), name


@pytest.fixture(scope='module')
def context(tarball, tmp_path_factory):
    """ansible-builder create on the example as its comments say to use it: the tarball beside it, nothing rewritten."""
    work = tmp_path_factory.mktemp('ee')
    for name in ('execution-environment.yml', 'requirements.yml'):
        shutil.copy(EXAMPLE / name, work / name)
    shutil.copy(tarball, work / tarball.name)
    run(BIN / 'ansible-builder', 'create', '--file', 'execution-environment.yml', '--context', 'context',
        '--output-filename', 'Containerfile', cwd=work)
    return work / 'context'


def test_the_example_is_a_version_3_definition_that_installs_the_tarball_of_this_version(tarball):
    """The requirement installs today (the tarball; Galaxy has no piopiy.voice), and names the version of galaxy.yml."""
    definition = yaml.safe_load((EXAMPLE / 'execution-environment.yml').read_text(encoding='utf-8'))
    requirements = yaml.safe_load((EXAMPLE / definition['dependencies']['galaxy']).read_text(encoding='utf-8'))
    assert definition['version'] == 3
    assert requirements['collections'] == [{'name': '/build/collections/' + tarball.name, 'type': 'file'}]
    assert definition['additional_build_files'] == [{'src': tarball.name, 'dest': 'collections'}]


def test_the_build_context_installs_the_tarball_and_introspects_its_requirements(context, tarball):
    containerfile = (context / 'Containerfile').read_text(encoding='utf-8')
    assert (context / '_build' / 'collections' / tarball.name).is_file()
    galaxy = yaml.safe_load((context / '_build' / 'requirements.yml').read_text(encoding='utf-8'))
    assert galaxy['collections'] == [{'name': '/build/collections/' + tarball.name, 'type': 'file'}]
    assert containerfile.index('COPY _build/collections/ /build/collections/') < containerfile.index('ansible-galaxy collection install')
    # The image's builder stage runs this introspection over the installed collections.
    assert 'introspect' in containerfile


def test_introspection_of_the_installed_collection_names_its_requirements(tarball, tmp_path):
    """What the Containerfile's introspect step finds for piopiy.voice: python3, attributed to it, and no Python package."""
    run(BIN / 'ansible-galaxy', 'collection', 'install', tarball, '-p', tmp_path)
    pip_file, bindep_file = tmp_path / 'requirements.txt', tmp_path / 'bindep.txt'
    run(BIN / 'ansible-builder', 'introspect', tmp_path, '--write-pip', pip_file, '--write-bindep', bindep_file)
    # With no Python requirement anywhere, ansible-builder writes no pip file at all.
    python_requirements = pip_file.read_text(encoding='utf-8').splitlines() if pip_file.exists() else []
    system_requirements = bindep_file.read_text(encoding='utf-8').splitlines()
    assert not [line for line in python_requirements if 'piopiy.voice' in line], python_requirements
    assert any(line.startswith('python3 ') and 'piopiy.voice' in line for line in system_requirements), system_requirements
