# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the Makefile's targets would write, read from `make -n -B` (print every command, run none)."""

from __future__ import annotations

import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOME = '/nonexistent/home-of-the-makefile-test'


def commands(target):
    """Every command `make TARGET` would run from scratch, with HOME set to a path no other text holds."""
    done = subprocess.run(['make', '-n', '-B', target], cwd=ROOT, env=dict(os.environ, HOME=HOME), capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


def test_make_demo_writes_nothing_under_the_home_directory():
    text = commands('demo')
    assert 'with_emulator.sh playbooks/demo.sh' in text
    assert HOME not in text and '~' not in text and '.ansible/test' not in text


def test_the_ansible_test_targets_still_install_the_pip_bootstrap_stand_in():
    for target in ('units', 'sanity', 'integration'):
        assert 'cp tests/utils/get_pip_standin.py %s/.ansible/test/cache/get_pip_' % HOME in commands(target)
