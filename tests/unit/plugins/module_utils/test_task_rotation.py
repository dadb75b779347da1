# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The piopiy_agent_rotation task: what it reads, and its token file and backup, against an in-memory workspace. No HTTP."""

from __future__ import annotations

import datetime

from ansible_collections.piopiy.voice.plugins.module_utils.client_capabilities import Capabilities
from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import run_loop
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import APPLIED, FAILED, NOT_SENT, report as records_of
from ansible_collections.piopiy.voice.plugins.module_utils.resource_token_file import (
    holds_credentials_of,
    keep_backup,
    read_credentials,
    write_credentials,
)
from ansible_collections.piopiy.voice.plugins.module_utils.task_rotation import RotationTask

NAME = 'prod-support-agent'
NUMBERS = ['+19499800001', '+19499800002']
ISSUED = datetime.datetime(2026, 1, 31, 9, 15, 2, tzinfo=datetime.timezone.utc)


class Workspace:
    """The client calls of a rotation over an in-memory workspace; reading the purchased numbers is a test failure."""

    capabilities = Capabilities()  # every call of the API is there

    def __init__(self, agents, routes, answer_token=True):
        self.agents = dict((agent['id'], dict(agent)) for agent in agents)
        self.routes = dict(routes)
        self.answer_token = answer_token  # False: the create's answer carries no token, as a lost answer settled by a read-back
        self.made = 0

    def list_agents(self):
        return [dict(agent) for agent in self.agents.values()]

    def get_agent(self, agent_id):
        return dict(self.agents[agent_id]) if agent_id in self.agents else None

    def create_agent(self, name, language, settle=None):
        self.made += 1
        agent = {'id': 'agent_made%d' % self.made, 'name': name, 'language': language, 'status': 'active'}
        self.agents[agent['id']] = agent
        return dict(agent, agent_token='agt_live_%d' % self.made) if self.answer_token else dict(agent)

    def update_agent(self, agent_id, changes):
        self.agents[agent_id].update(changes)
        return dict(self.agents[agent_id])

    def delete_agent(self, agent_id):
        del self.agents[agent_id]

    def list_routes(self, agent_id=None):
        return [{'phone_number': number, 'route_type': 'ai_agent', 'agent_id': owner, 'status': 'connected'}
                for number, owner in self.routes.items() if agent_id in (None, owner)]

    def set_route(self, number, agent_id, settle=None):
        self.routes[number] = agent_id
        return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}

    def list_purchased_numbers(self, until=None):
        raise AssertionError('a rotation moves only routed numbers: it never walks the purchased numbers')


class Module:
    def __init__(self, token_file, token_file_format='env', phase='all', check_mode=False):
        self.params = dict(name=NAME, token_file=token_file, token_file_format=token_file_format, token_env_names=None, start='now',
                           phase=phase, token_max_age=None, drain_seconds=0, lock_timeout=0,
                           api_base='http://127.0.0.1:1/v1', api_key='pk_test_unit')
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def run(workspace, module):
    task = RotationTask(module)
    assert [problem for problem in task.validate() if problem] == []
    loop = run_loop(task, workspace, check_mode=False)  # applied even for a check-mode module: its plan's writes are observed
    return task.result(loop), loop.outcomes


def old_workspace(**kwargs):
    return Workspace([{'id': 'agent_old', 'name': NAME, 'language': 'hi-IN', 'status': 'active'}],
                     dict((number, 'agent_old') for number in NUMBERS), **kwargs)


def test_a_whole_rotation_reads_the_agents_and_the_routes_never_the_purchased_numbers(tmp_path):
    path = str(tmp_path / 'agent.env')
    write_credentials(path, 'env', 'agent_old', 'agt_live_old', ISSUED)
    workspace = old_workspace()

    report, outcomes = run(workspace, Module(path))

    assert [outcome.operation.action for outcome in outcomes] == ['create', 'map', 'map', 'delete', 'update']
    assert report.values['rotation']['completed'] and report.values['agent']['id'] == 'agent_made1'
    assert set(workspace.routes.values()) == {'agent_made1'}


def test_finishing_reads_no_purchased_number_even_in_check_mode(tmp_path):
    path = str(tmp_path / 'agent.env')
    write_credentials(path, 'env', 'agent_old', 'agt_live_old', ISSUED)
    task = RotationTask(Module(path, phase='finish', check_mode=True))

    state = task.read(old_workspace(), 0)

    assert sorted(state.book.routes) == NUMBERS


def test_a_rotation_that_starts_replaces_a_previous_file_that_names_a_deleted_agent(tmp_path):
    path = str(tmp_path / 'agent.env')
    write_credentials(path, 'env', 'agent_deleted', 'agt_live_deleted', ISSUED)
    keep_backup(path)
    write_credentials(path, 'env', 'agent_old', 'agt_live_old', ISSUED)  # an earlier rotation, killed after its rename

    report, unused = run(old_workspace(), Module(path, phase='prepare'))

    assert report.values['rotation']['in_progress'] and report.values['agent_token_file'] == path
    assert read_credentials(path, 'env').agent_id == 'agent_made1'
    assert read_credentials(path + '.previous', 'env').agent_id == 'agent_old', '.previous holds the credentials the rotation replaces'


def test_a_plain_token_file_whose_successor_token_was_lost_is_not_taken_for_the_successors(tmp_path):
    path = str(tmp_path / 'agent.token')
    write_credentials(path, 'token', 'agent_old', 'agt_live_old', ISSUED)
    workspace = old_workspace(answer_token=False)

    unused, outcomes = run(workspace, Module(path, token_file_format='token', phase='prepare'))

    assert [outcome.status for outcome in outcomes] == [FAILED]
    assert 'the answer carrying its token was lost' in str(outcomes[0].error)
    assert open(path).read() == 'agt_live_old\n'
    assert not holds_credentials_of(path, 'token', 'agent_made1'), 'so the next run replaces the successor'

    workspace.answer_token = True
    report, outcomes = run(workspace, Module(path, token_file_format='token', phase='prepare'))

    assert [(outcome.operation.action, outcome.status) for outcome in outcomes] == [('delete', APPLIED), ('create', APPLIED)]
    assert open(path).read() == 'agt_live_2\n' and open(path + '.previous').read() == 'agt_live_old\n'
    assert holds_credentials_of(path, 'token', 'agent_made2')


def test_an_old_agent_without_numbers_is_kept_until_its_successor_and_token_are_made(tmp_path):
    # No number waits to move, so only the create stands between the old agent and its delete: a successor whose token
    # was lost must not cost the old agent, or the workspace would keep only an agent whose token nobody holds.
    path = str(tmp_path / 'agent.env')
    write_credentials(path, 'env', 'agent_old', 'agt_live_old', ISSUED)
    workspace = Workspace([{'id': 'agent_old', 'name': NAME, 'language': 'hi-IN', 'status': 'active'}], {}, answer_token=False)

    unused, outcomes = run(workspace, Module(path))

    assert [(outcome.operation.action, outcome.status) for outcome in outcomes] == [
        ('create', FAILED), ('delete', NOT_SENT), ('update', NOT_SENT)]
    assert 'agent_old' in workspace.agents and read_credentials(path, 'env').agent_id == 'agent_old'
    records, unused_failures, changed = records_of(outcomes)
    assert changed and [(record['op'], record['id']) for record in records] == [('create', 'agent_made1')], \
        'the successor the API made is in operations, so in the audit trail'

    workspace.answer_token = True
    report, outcomes = run(workspace, Module(path))

    assert [(outcome.operation.action, outcome.status) for outcome in outcomes] == [
        ('delete', APPLIED), ('create', APPLIED), ('delete', APPLIED), ('update', APPLIED)]
    assert report.values['rotation']['completed'] and list(workspace.agents) == ['agent_made2']
    assert workspace.agents['agent_made2']['name'] == NAME and read_credentials(path, 'env').agent_id == 'agent_made2'


def test_rotating_an_agent_that_does_not_exist_warns_and_changes_nothing(tmp_path):
    # A misspelt name must not pass for a done rotation; the role still runs it before a new environment's agent exists.
    module = Module(str(tmp_path / 'agent.env'))
    report, outcomes = run(Workspace([], {}), module)

    assert outcomes == [] and not report.values['rotation']['started']
    assert module.warnings == ["no agent named 'prod-support-agent' in this workspace, so nothing was rotated: check the name "
                               "(piopiy.voice.piopiy_agent_info lists the agents); an agent created later is rotated by the next run"]
    finish = Module(str(tmp_path / 'agent.env'), phase='finish')
    run(Workspace([], {}), finish)
    assert finish.warnings == [], 'said once, by the task that would start the rotation'
