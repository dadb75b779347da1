# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests talk to the real emulator over HTTP: one emulator per test process, reset around each test."""

from __future__ import annotations

import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACME_KEY = 'pk_test_acme_0001'


class Emulator:
    """A running emulator process and its test-only admin API."""

    def __init__(self, url):
        self.url = url
        self.api_base = url + '/v1'

    def admin(self, method, path, body=None):
        response = requests.request(method, self.url + '/__emulator__/' + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else {}

    def reset(self):
        self.admin('POST', 'reset')

    def faults(self, **faults):
        self.admin('PUT', 'faults', faults)

    def requests_log(self):
        return self.admin('GET', 'requests')

    def clear_log(self):
        self.admin('DELETE', 'requests')

    def state(self):
        return self.admin('GET', 'state')


def start_emulator(db_path):
    command = [sys.executable, str(ROOT / 'tests' / 'emulator' / 'piopiy_emulator.py'), '--host', '127.0.0.1', '--port', '0',
               '--db', str(db_path), '--seed', str(ROOT / 'tests' / 'emulator' / 'seeds' / 'default.yml'), '--reset']
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith('PIOPIY_EMULATOR_URL='):
        process.kill()
        raise RuntimeError('the emulator did not start: %r' % line)
    return process, line.strip().split('=', 1)[1]


# ansible-test runs each test in a forked child: a session fixture would start an emulator in
# every child and never stop it. The session hooks run once in the parent (or each xdist
# worker), and the children inherit the running emulator.
RUNNING = {}


def pytest_sessionstart(session):  # pylint: disable=unused-argument
    state_dir = tempfile.mkdtemp(prefix='piopiy-units-')
    RUNNING['process'], RUNNING['url'] = start_emulator(pathlib.Path(state_dir) / 'state.sqlite')
    RUNNING['state_dir'] = state_dir


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    process = RUNNING.pop('process', None)
    if process is not None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        shutil.rmtree(RUNNING.pop('state_dir'), ignore_errors=True)


@pytest.fixture
def emulator():
    running = Emulator(RUNNING['url'])
    running.reset()
    yield running
    running.reset()


class SleepRecorder:
    """Stands in for time.sleep so back-off is asserted, not waited for."""

    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)
        time.sleep(0)


@pytest.fixture
def sleeps():
    return SleepRecorder()
