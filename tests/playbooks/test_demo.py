# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""`make demo` says only what is true, writes nothing under the home directory, and stops quietly on Ctrl-C.

The Ctrl-C tests run the demo as `make demo` does (tests/utils/with_emulator.sh playbooks/demo.sh) in a session of its
own, and send SIGINT to the whole session's process group, as a terminal does. They wait for a state, never for a time.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV = ROOT / '.venv'


@pytest.mark.skipif(not (VENV / 'bin' / 'ansible-playbook').exists(), reason='needs the virtualenv of make venv')
def test_make_demo_warns_of_no_lost_token_and_writes_nothing_under_home(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    environment = dict((name, value) for name, value in os.environ.items() if not name.startswith(('ANSIBLE_', 'PIOPIY_', 'MAKE')))
    environment.update(HOME=str(home), NO_COLOR='1')
    done = subprocess.run(['make', '--no-print-directory', 'demo'], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=1200, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert '==== 12.' in output
    # Every agent's token is kept from its creation on, so the rotation's dry run has no lost token to speak of.
    assert 'was lost' not in output and 'was not kept' not in output, output
    assert sorted(str(path.relative_to(home)) for path in home.rglob('*')) == []


def start_demo():
    collections = ROOT / 'build' / 'collections'
    (collections / 'ansible_collections' / 'piopiy').mkdir(parents=True, exist_ok=True)
    link = collections / 'ansible_collections' / 'piopiy' / 'voice'
    if not link.is_symlink():
        link.symlink_to(ROOT)
    environment = dict(os.environ, PATH='%s:%s' % (VENV / 'bin', os.environ['PATH']), PYTHON=str(VENV / 'bin' / 'python'),
                       ANSIBLE_COLLECTIONS_PATH=str(collections), NO_COLOR='1')
    return subprocess.Popen([str(ROOT / 'tests' / 'utils' / 'with_emulator.sh'), str(ROOT / 'playbooks' / 'demo.sh')], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def session_runs(session, program):
    """Whether a process of the session runs program (its command line holds the name)."""
    for entry in pathlib.Path('/proc').iterdir():
        try:
            stat = (entry / 'stat').read_text()
            command = (entry / 'cmdline').read_bytes()
        except (OSError, ValueError):
            continue
        fields = stat.rsplit(')', 1)[-1].split()  # state, ppid, process group, session, ...
        if len(fields) > 3 and int(fields[3]) == session and program.encode() in command:
            return True
    return False


def interrupt(demo, ready):
    """SIGINT to the demo's process group once ready(line) holds for a line of its output; returns (status, stderr)."""
    lines = []
    for line in demo.stdout:
        lines.append(line)
        if ready(line):
            break
    else:
        pytest.fail('the demo ended before the moment to interrupt it:\n' + ''.join(lines))
    os.killpg(demo.pid, signal.SIGINT)
    rest, errors = demo.communicate(timeout=300)
    return demo.returncode, errors, ''.join(lines) + rest


@pytest.mark.skipif(not (VENV / 'bin' / 'ansible-playbook').exists(), reason='needs the virtualenv of make venv')
@pytest.mark.parametrize('moment', ['while ansible-playbook starts', 'while a task runs'])
def test_ctrl_c_stops_the_demo_quietly_with_status_130(moment):
    demo = start_demo()
    if moment == 'while ansible-playbook starts':
        # Python is still importing Ansible: without care, a Ctrl-C there prints a traceback of those imports.
        def ready(line):
            if not line.startswith('==== 1.'):
                return False
            while demo.poll() is None and not session_runs(demo.pid, 'ansible-playbook'):
                pass
            return demo.poll() is None
    else:
        def ready(line):
            return line.startswith('TASK [')
    status, errors, output = interrupt(demo, ready)
    assert status == 130, output + errors
    assert 'Traceback' not in errors and 'KeyboardInterrupt' not in errors, errors
    assert '==== 2.' not in output
