# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""`make test-matrix`: sanity and the integration targets whose behaviour depends on ansible-core, against the
emulator, once per ansible-core minor of tests/matrix/cells.txt, each in its own virtualenv.

Usage: python tests/matrix/run_matrix.py [MINOR ...]   (no minor: every cell)

A cell runs the targets marked `every_core` in their aliases file: those that exercise what changes from one core to
the next (argument parsing, vault and deprecations in AnsiballZ, interpreter discovery, callbacks and the drift exit
status, templating in the role, the filters and the playbooks). The other targets drive the modules' own code, which
is the same on every core; `make test` runs every target on the default core. MATRIX_TARGETS=all runs every target
in each cell too.

A cell's interpreter comes from MATRIX_PYTHON_<major>_<minor> (such as MATRIX_PYTHON_3_12), else the newest
~/.pyenv/versions/<major>.<minor>.*, else python<major>.<minor> on PATH. A cell whose interpreter is missing is
reported SKIP, never passed. Exits 1 when a cell that ran failed or a requested cell is unknown.

Cells run side by side, MATRIX_JOBS at a time (default: the number of CPUs), each with its own emulator, stage and
log; cells of one Python run one after another, since they share ansible-test's virtualenvs. Each cell's log is
tests/output/matrix/<minor>.log; the run prints the end of a failed cell's log, then one table.
"""

from __future__ import annotations

import glob
import os
import pathlib
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parents[2]
CELLS_FILE = ROOT / 'tests' / 'matrix' / 'cells.txt'
# Under tests/output, which git, ansible-lint and the collection build already leave out.
VENVS = pathlib.Path(os.environ.get('MATRIX_VENVS', str(ROOT / 'tests' / 'output' / 'matrix' / 'venvs')))
LOGS = ROOT / 'tests' / 'output' / 'matrix'
STAGE_ROOT = pathlib.Path(os.environ.get('MATRIX_STAGE_ROOT', '/tmp/piopiy-voice-matrix-%d' % os.getuid()))
# The libraries the collection's tests need beside ansible-core, at the versions `make test` pins.
COMPANIONS = ('requests', 'PyYAML')
# Sanity tests left out of some cells, and why (none so far).
SKIPPED_SANITY = {}
# The ansible-test target pattern of a cell's integration targets: the alias every_core (see the docstring).
CELL_TARGETS = 'every_core/'


def read_cells():
    """[(minor, ansible-core pin, python version)] in file order."""
    return [(minor, core, python) for minor, core, python, unused_pip in cell_rows()]


def cell_rows():
    """Every row of the cells file: minor, ansible-core pin, python version, ansible-test's pip pin."""
    return [tuple(line.split()) for line in CELLS_FILE.read_text(encoding='utf-8').splitlines()
            if line.strip() and not line.lstrip().startswith('#')]


def pinned_companions():
    """The requirements-dev.txt pins of COMPANIONS, so every cell tests with the same libraries."""
    pins = []
    for line in (ROOT / 'requirements-dev.txt').read_text(encoding='utf-8').splitlines():
        name = line.split('==')[0].strip()
        if name in COMPANIONS:
            pins.append(line.strip())
    return pins


def python_version_of(interpreter):
    try:
        answer = subprocess.run([interpreter, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                                capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return None
    return answer.stdout.strip() if answer.returncode == 0 else None


def find_interpreter(version):
    """The interpreter for version, or None; each candidate must really run and be that version."""
    variable = 'MATRIX_PYTHON_' + version.replace('.', '_')
    if os.environ.get(variable):
        candidates = [os.environ[variable]]
    else:
        pyenv = sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/%s.*/bin/python' % version)),
                       key=lambda path: [int(part) for part in path.split('/')[-3].split('.') if part.isdigit()], reverse=True)
        candidates = pyenv + [shutil.which('python' + version) or '']
    for candidate in candidates:
        if candidate and python_version_of(candidate) == version:
            return candidate
    return None


def run_logged(command, log, env=None, cwd=ROOT):
    log.write('\n$ %s\n' % ' '.join(str(part) for part in command))
    log.flush()
    return subprocess.run([str(part) for part in command], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode == 0


def build_venv(minor, core, interpreter, log):
    """tests/output/matrix/venvs/<minor>, rebuilt when its pins or interpreter change."""
    venv = VENVS / minor
    wanted = '\n'.join(['ansible-core==' + core] + pinned_companions() + [interpreter]) + '\n'
    stamp = venv / '.installed'
    if stamp.exists() and stamp.read_text(encoding='utf-8') == wanted:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    if not (run_logged([interpreter, '-m', 'venv', venv], log)
            and run_logged([venv / 'bin' / 'pip', 'install', '--quiet', 'ansible-core==' + core] + pinned_companions(), log)):
        return None
    stamp.write_text(wanted, encoding='utf-8')
    return venv


def install_get_pip_standin(minor):
    """ansible-test of this core looks for a cached pip bootstrap script named after the pip it wants: give it ours."""
    version = next(pip for cell, unused_core, unused_python, pip in cell_rows() if cell == minor)
    cache = pathlib.Path.home() / '.ansible' / 'test' / 'cache'
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / 'tests' / 'utils' / 'get_pip_standin.py', cache / ('get_pip_%s.py' % version.replace('.', '_')))


def stage(minor):
    """A copy of the collection's tracked and untracked, not ignored files under ansible_collections/piopiy/voice."""
    target = STAGE_ROOT / minor / 'ansible_collections' / 'piopiy' / 'voice'
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b'\0')
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            destination = target / os.fsdecode(name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def run_cell(minor, core, version, interpreter, log):
    """True when sanity and every integration target pass with this core."""
    venv = build_venv(minor, core, interpreter, log)
    if venv is None:
        return False
    collection = stage(minor)
    env = dict(os.environ, PATH='%s:%s' % (venv / 'bin', os.environ['PATH']), PYTHON=str(venv / 'bin' / 'python'),
               TEST_PYTHON=version, ANSIBLE_NOCOLOR='1')
    env.pop('VIRTUAL_ENV', None)
    skipped = ['--skip-test=' + test for test in SKIPPED_SANITY.get(minor, ())]
    sanity = run_logged(['ansible-test', 'sanity', '--venv', '--python', version, '--color', 'no'] + skipped, log, env, collection)
    targets = [] if os.environ.get('MATRIX_TARGETS') == 'all' else [CELL_TARGETS]
    integration = run_logged([ROOT / 'tests' / 'utils' / 'with_emulator.sh', ROOT / 'tests' / 'utils' / 'run_integration.sh', collection,
                              '--continue-on-error'] + targets,
                             log, env)
    return sanity and integration


def lanes(cells, jobs):
    """The cells to run, as at most `jobs` lists run side by side, each in file order.

    Cells of one Python share ansible-test's virtualenvs under ~/.ansible/test, which two ansible-test processes must
    not build at once: they stay in one lane. The lanes of each Python go, largest first, to the emptiest list.
    """
    by_python = {}
    for cell in cells:
        by_python.setdefault(cell[2], []).append(cell)
    result = [[] for unused in range(max(1, min(jobs, len(by_python))))]
    for group in sorted(by_python.values(), key=len, reverse=True):
        min(result, key=len).extend(group)
    return [lane for lane in result if lane]


def run_lane(lane, interpreters):
    """Runs the cells of one lane one after another: {minor: (passed, seconds)}."""
    outcome = {}
    for minor, core, version in lane:
        started = time.monotonic()
        with open(LOGS / ('%s.log' % minor), 'w', encoding='utf-8') as log:
            passed = run_cell(minor, core, version, interpreters[minor], log)
        outcome[minor] = (passed, time.monotonic() - started)
    return outcome


def main(requested, jobs):
    cells = read_cells()
    known = [cell[0] for cell in cells]
    unknown = [minor for minor in requested if minor not in known]
    if unknown:
        print('unknown matrix cell(s) %s: the cells are %s (tests/matrix/cells.txt)' % (', '.join(unknown), ' '.join(known)))
        return 1
    LOGS.mkdir(parents=True, exist_ok=True)
    skipped, runnable, interpreters = {}, [], {}
    for minor, core, version in cells:
        if requested and minor not in requested:
            continue
        interpreter = find_interpreter(version)
        if interpreter is None:
            skipped[minor] = 'SKIP: no Python %s (set MATRIX_PYTHON_%s)' % (version, version.replace('.', '_'))
            print('SKIP ansible-core %s: no Python %s found; set MATRIX_PYTHON_%s to its interpreter' % (core, version, version.replace('.', '_')),
                  flush=True)
            continue
        interpreters[minor] = interpreter
        runnable.append((minor, core, version))
        print('== ansible-core %s on Python %s (%s), log %s' % (core, version, interpreter, (LOGS / ('%s.log' % minor)).relative_to(ROOT)),
              flush=True)
    # Before the lanes start: two cells of one pip release would otherwise write the same file at once.
    for minor, unused_core, unused_version in runnable:
        install_get_pip_standin(minor)
    outcome = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for result in pool.map(lambda lane: run_lane(lane, interpreters), lanes(runnable, jobs)):
            outcome.update(result)
    rows = []
    for minor, core, version in cells:
        if minor in skipped:
            rows.append((core, version, skipped[minor], '-'))
        elif minor in outcome:
            passed, seconds = outcome[minor]
            if not passed:
                print('== ansible-core %s failed; the end of its log:' % core)
                print(''.join((LOGS / ('%s.log' % minor)).read_text(encoding='utf-8').splitlines(True)[-60:]), flush=True)
            rows.append((core, version, 'PASS' if passed else 'FAIL', '%.0f s' % seconds))
    print_table(rows)
    return 1 if any(row[2] == 'FAIL' for row in rows) else 0


def print_table(rows):
    header = ('ansible-core', 'Python', 'result', 'time')
    widths = [max(len(str(row[column])) for row in rows + [header]) for column in range(4)]
    for row in [header, tuple('-' * width for width in widths)] + rows:
        print('  '.join(str(value).ljust(width) for value, width in zip(row, widths)).rstrip())


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:], int(os.environ.get('MATRIX_JOBS') or os.cpu_count() or 1)))
