# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Every command block of the Markdown docs runs as written.

The blocks are collected from every Markdown file of the tree, so a new block, or a new page, is
tested without anyone listing it. The convention (CONTRIBUTING.md, "Command blocks in the docs"):

- every fenced block names its language, so no command hides in an unlabelled block;
- a ``sh`` block runs: from the top of a copy of the tree as a fresh clone has it, inside
  ``tests/utils/piopiy_env.sh`` (what ``make shell`` opens: .venv's tools on the PATH, the
  collection on ANSIBLE_COLLECTIONS_PATH, a fresh emulator and its keys exported), with ``bash -euo pipefail``,
  and must exit 0 without printing the emulator's key or any terminal escape sequence (its output is a pipe);
- a block whose info string adds ``example`` (```` ```sh example ````) is not run: it needs a real
  account, changes the repository, or takes minutes, as the text beside it says. It must still parse.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {'sh', 'bash', 'shell'}
MARKERS = {'example'}
# The emulator's test key: the helper exports it, and no command may print it.
TEST_KEY = 'pk_test_acme_0001'
FENCE = re.compile(r'^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$')


@dataclasses.dataclass(frozen=True)
class Block:
    path: str
    line: int
    language: str
    markers: frozenset
    text: str

    @property
    def where(self):
        return '%s:%d' % (self.path, self.line)

    @property
    def is_shell(self):
        return self.language in SHELL_LANGUAGES

    @property
    def runs(self):
        return self.is_shell and 'example' not in self.markers


def markdown_files():
    """Every Markdown file a fresh clone has: tracked, and untracked but not ignored."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '*.md'],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return sorted({name for name in listed.split('\0') if name and (ROOT / name).is_file()})


def fenced_blocks(path):
    """The fenced code blocks of one Markdown file, with the line of their opening fence."""
    blocks, opening = [], None
    for number, line in enumerate((ROOT / path).read_text(encoding='utf-8').splitlines(), start=1):
        if opening is None:
            match = FENCE.match(line)
            if match:
                opening = (number, match, [])
            continue
        start, match, body = opening
        fence = match.group('fence')
        if line.strip().startswith(fence) and line.strip() == fence[0] * len(line.strip()):
            words = match.group('info').split()
            blocks.append(Block(path, start, words[0] if words else '', frozenset(words[1:]),
                                '\n'.join(text[len(match.group('indent')):] for text in body) + '\n'))
            opening = None
        else:
            body.append(line)
    assert opening is None, '%s:%d: a fenced block is never closed' % (path, opening[0])
    return blocks


ALL_BLOCKS = [block for path in markdown_files() for block in fenced_blocks(path)]
RUNNABLE = [block for block in ALL_BLOCKS if block.runs]


def test_the_docs_have_runnable_blocks():
    """The collector finds the README's runnable commands, so an empty parametrization cannot pass silently."""
    assert sum(block.path == 'README.md' for block in RUNNABLE) >= 5, [block.where for block in RUNNABLE]
    # The user guide's pages under docs/ are collected too, not only the README.
    assert sum(block.path.startswith('docs/') for block in RUNNABLE) >= 5, [block.where for block in RUNNABLE]


def test_every_block_names_its_language_and_known_markers():
    unlabelled = [block.where for block in ALL_BLOCKS if not block.language]
    assert not unlabelled, 'fenced blocks without a language (write ```sh, ```yaml, ...): %s' % unlabelled
    unknown = ['%s: %s' % (block.where, ' '.join(sorted(block.markers - MARKERS))) for block in ALL_BLOCKS if block.markers - MARKERS]
    assert not unknown, 'unknown markers after the language (only "example" is known): %s' % unknown


@pytest.mark.parametrize('block', [block for block in ALL_BLOCKS if block.is_shell], ids=lambda block: block.where)
def test_every_shell_block_parses(block):
    checked = subprocess.run(['bash', '-n'], input=block.text, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, '%s does not parse:\n%s%s' % (block.where, block.text, checked.stderr)


@pytest.fixture(scope='module')
def fresh_tree(tmp_path_factory):
    """A copy of the tree as a fresh clone has it, with the work tree's .venv, as `make venv` would build it."""
    copy = tmp_path_factory.mktemp('clone') / 'piopiy.voice'
    copy.mkdir()
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                           cwd=ROOT, check=True, capture_output=True).stdout
    # tar keeps modification times, so make finds .venv/.installed newer than requirements-dev.txt, as after `make demo`.
    packed = subprocess.run(['tar', '--null', '--ignore-failed-read', '-T', '-', '-cf', '-'], cwd=ROOT, input=files,
                            check=True, capture_output=True).stdout
    subprocess.run(['tar', '-xf', '-', '-C', str(copy)], input=packed, check=True)
    (copy / '.venv').symlink_to(ROOT / '.venv')
    home = tmp_path_factory.mktemp('home')
    return {'root': copy, 'env': clean_environment(home)}


def clean_environment(home):
    """A new user's shell: no ANSIBLE_*, PIOPIY_* or make variables, no .venv of the work tree on the PATH, a scratch HOME."""
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith(('ANSIBLE_', 'PIOPIY_', 'MAKE', 'MFLAGS', 'VIRTUAL_ENV', 'PYTEST_'))
                 and name not in ('PYTHON', 'TEST_PYTHON')}
    inherited['PATH'] = os.pathsep.join(entry for entry in os.environ['PATH'].split(os.pathsep)
                                        if not entry.startswith(str(ROOT)))
    inherited['HOME'] = str(home)
    return inherited


@pytest.mark.parametrize('block', RUNNABLE, ids=lambda block: block.where)
def test_runnable_block_runs_as_written(fresh_tree, block):
    helper = fresh_tree['root'] / 'tests' / 'utils' / 'piopiy_env.sh'
    result = subprocess.run([str(helper), 'bash', '-euo', 'pipefail', '-c', block.text], cwd=fresh_tree['root'],
                            env=fresh_tree['env'], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, '%s failed with exit code %d:\n%s\n--- output (last 60 lines) ---\n%s' % (
        block.where, result.returncode, block.text, '\n'.join(output.splitlines()[-60:]))
    assert TEST_KEY not in output, '%s printed the API key' % block.where
    # Piped, as here, no documented command may colour its output: a log or a file would get raw escape codes.
    assert '\x1b[' not in output, '%s printed terminal escape sequences into a pipe' % block.where
