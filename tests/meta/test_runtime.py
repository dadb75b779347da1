# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""meta/runtime.yml stays in step with the plugins the collection ships."""

from __future__ import annotations

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def shipped_modules():
    return sorted(path.stem for path in (ROOT / 'plugins' / 'modules').glob('*.py') if path.stem != '__init__')


def runtime():
    return yaml.safe_load((ROOT / 'meta' / 'runtime.yml').read_text(encoding='utf-8'))


def test_action_group_lists_every_module_once():
    group = runtime()['action_groups']['piopiy']
    assert sorted(group) == shipped_modules()
    assert len(group) == len(set(group))


def test_collection_ships_the_documented_modules():
    assert {'piopiy_agent', 'piopiy_agent_info', 'piopiy_number_route', 'piopiy_number_route_info'} <= set(shipped_modules())


def matrix_rows():
    """(minor, ansible-core pin, python, ansible-test's pip) rows of tests/matrix/cells.txt."""
    lines = (ROOT / 'tests' / 'matrix' / 'cells.txt').read_text(encoding='utf-8').splitlines()
    return [tuple(line.split()) for line in lines if line.strip() and not line.startswith('#')]


def matrix_cells():
    """(minor, ansible-core pin, python) of every cell."""
    return [row[:3] for row in matrix_rows()]


def dev_pin(package):
    lines = (ROOT / 'requirements-dev.txt').read_text(encoding='utf-8').splitlines()
    return next(line.split('==')[1].strip() for line in lines if line.startswith(package + '=='))


def test_requires_ansible_is_the_oldest_core_the_matrix_tests():
    oldest = min(matrix_cells(), key=lambda cell: tuple(int(part) for part in cell[0].split('.')))[0]
    assert runtime()['requires_ansible'] == '>=%s.0' % oldest


def test_the_role_names_the_same_oldest_core():
    role_meta = yaml.safe_load((ROOT / 'roles' / 'support_agent' / 'meta' / 'main.yml').read_text(encoding='utf-8'))
    assert '>=%s.0' % role_meta['galaxy_info']['min_ansible_version'] == runtime()['requires_ansible']


def test_the_core_make_test_runs_is_a_matrix_cell():
    assert dev_pin('ansible-core') in [cell[1] for cell in matrix_cells()]


def test_each_cell_pins_a_release_of_its_own_minor():
    for minor, core, python in matrix_cells():
        assert core.startswith(minor + '.') and python.startswith('3.'), (minor, core, python)


def test_the_contributing_support_matrix_lists_every_cell():
    guide = (ROOT / 'CONTRIBUTING.md').read_text(encoding='utf-8')
    for minor, core, python in matrix_cells():
        assert '| %s | %s | %s |' % (minor, core, python) in guide, 'the support matrix of CONTRIBUTING.md misses ansible-core %s' % core


def test_the_pip_pin_of_make_tests_core_is_the_one_its_ansible_test_bootstraps():
    """The Makefile installs the pip bootstrap stand-in under this pin; a core bump must bump it too."""
    import ansible_test
    source = (pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py').read_text(encoding='utf-8')
    wanted = re.search(r"^\s*pip='([0-9.]+)',\s*$", source, re.MULTILINE).group(1)
    pinned = next(row[3] for row in matrix_rows() if row[1] == dev_pin('ansible-core'))
    assert pinned == wanted
