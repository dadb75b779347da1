# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The piopiy_fleet task's own option checks, and its diff (no HTTP)."""

from __future__ import annotations

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import run_loop
from ansible_collections.piopiy.voice.plugins.module_utils.task_workspace import WorkspaceTask, option_problems
from ansible_collections.piopiy.voice.plugins.modules.piopiy_fleet import ARGUMENT_SPEC


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


N1, N5 = '+19499800001', '+19499800005'


class ReadOnlyWorkspace:
    """The reads of a workspace; a check-mode run sends nothing, so there is no write to fake."""

    def __init__(self, agents, routes):
        self.agents, self.routes = agents, routes

    def list_agents(self):
        return [dict(agent, status='active') for agent in self.agents]

    def list_routes(self, agent_id=None):
        return [{'phone_number': number, 'route_type': 'ai_agent', 'agent_id': owner, 'status': 'connected'}
                for number, owner in self.routes.items() if agent_id in (None, owner)]

    def list_purchased_numbers(self, until=None):
        raise AssertionError('every listed number routes to its agent: no purchased number is read')


class Module:
    """What WorkspaceTask reads of its AnsibleModule: the options with their defaults, check mode, warnings."""

    def __init__(self, check_mode, **options):
        self.params = dict((name, spec.get('default')) for name, spec in ARGUMENT_SPEC.items())
        self.params.update(options)
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def test_the_diff_of_a_merge_shows_the_duplicate_agent_and_its_numbers_going():
    # A second agent with dev's name holds N5, which dev does not list: the merge unmaps N5 and deletes the duplicate,
    # while the kept agent's own numbers stay as they are.
    workspace = ReadOnlyWorkspace([{'id': 'agent_1', 'name': 'dev-support-agent'}, {'id': 'agent_2', 'name': 'dev-support-agent'}],
                                  {N1: 'agent_1', N5: 'agent_2'})
    task = WorkspaceTask(Module(True, environments=[{'environment': 'dev', 'phone_numbers': [N1]}]))
    assert task.validate() == []
    report = task.result(run_loop(task, workspace, check_mode=True))

    assert report.before['dev']['phone_numbers'] == report.after['dev']['phone_numbers'] == [N1]
    assert report.before['dev']['duplicate_agents'] == [{'id': 'agent_2', 'name': 'dev-support-agent', 'phone_numbers': [N5]}]
    assert report.after['dev']['duplicate_agents'] == []
