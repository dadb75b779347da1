# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The piopiy_fleet task's own option checks (no HTTP)."""

from __future__ import annotations

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.task_workspace import option_problems


def params(token_dir, *environments):
    return dict(parallel_requests=4, lock_timeout=0, max_requests_per_second=0, token_dir=token_dir,
                environments=[dict(environment=name) for name in environments])


@pytest.mark.parametrize('environment', ['../x', '/etc/x', 'a/b', '../../home/user/.ssh/x'])
def test_an_environment_whose_token_file_leaves_token_dir_is_refused(tmp_path, environment):
    problems = option_problems(params(str(tmp_path), 'dev', environment))
    assert problems == ['environment %r cannot name a token file in token_dir (its token would be written outside token_dir): '
                        'use an environment name without a path separator' % environment]


def test_plain_names_and_no_token_dir_are_fine(tmp_path):
    assert option_problems(params(str(tmp_path), 'dev', 'prod-eu', '..x', 'caf\u00e9')) == []
    assert option_problems(params(None, '../x')) == []  # no token file is written
