# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""meta/runtime.yml stays in step with the plugins the collection ships."""

from __future__ import annotations

import pathlib

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


def test_requires_ansible_is_the_core_that_make_test_runs():
    pinned = next(line.split('==')[1].strip() for line in (ROOT / 'requirements-dev.txt').read_text(encoding='utf-8').splitlines()
                  if line.startswith('ansible-core=='))
    minor = '.'.join(pinned.split('.')[:2])
    assert runtime()['requires_ansible'] == '>=%s.0' % minor
