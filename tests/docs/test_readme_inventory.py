# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The inventory the README shows is the one its commands run: docs/examples/inventory/.

Each YAML block of README.md whose first line is `# inventory/<path>` must hold the same data as
docs/examples/inventory/<path>, so that what a reader copies is what the docs test ran.
"""

from __future__ import annotations

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'docs' / 'examples' / 'inventory'
BLOCK = re.compile(r'^```yaml\n# inventory/(?P<path>[\w./-]+)[^\n]*\n(?P<body>.*?)^```$', re.MULTILINE | re.DOTALL)


def test_every_inventory_file_the_readme_shows_matches_the_example():
    shown = {match.group('path'): yaml.safe_load(match.group('body'))
             for match in BLOCK.finditer((ROOT / 'README.md').read_text(encoding='utf-8'))}
    assert set(shown) == {'hosts.yml', 'group_vars/piopiy_environments.yml', 'host_vars/prod.yml'}, sorted(shown)
    for path, data in shown.items():
        assert data == yaml.safe_load((EXAMPLE / path).read_text(encoding='utf-8')), path


def test_the_example_keeps_each_new_agents_token_in_a_file():
    group_vars = yaml.safe_load((EXAMPLE / 'group_vars' / 'piopiy_environments.yml').read_text(encoding='utf-8'))
    assert '{{ inventory_hostname }}-support-agent.token' in group_vars['support_agent_token_file']
