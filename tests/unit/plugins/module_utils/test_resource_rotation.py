# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rotation by replacement: the state read from the agents, and the plan from each intermediate state. No HTTP.

The plans are applied to an in-memory workspace that checks, after every write,
that every number still routes to an agent that exists.
"""

from __future__ import annotations

import datetime

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import WriteDoor
from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import (
    IDLE,
    OLD_DELETED,
    PREPARED,
    due_reason,
    plan_create_successor,
    plan_finish,
    plan_replace_lost_successor,
    read_rotation,
    rotation_problem_in_progress,
    rotation_problem_of_agent,
    successor_name,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import RouteBook
from ansible_collections.piopiy.voice.plugins.module_utils.resource_token_file import StoredCredentials

NAME = 'prod-support-agent'
OLD = {'id': 'agent_old', 'name': NAME, 'language': 'hi-IN', 'status': 'active'}
SUCCESSOR = {'id': 'agent_new', 'name': NAME + '--rotating-agent_old', 'language': 'hi-IN', 'status': 'active'}
NUMBERS = ['+19499800001', '+19499800002', '+19499800003']


class Workspace:
    """An in-memory workspace behind the client calls plans make; it records every write and checks routes after each."""

    def __init__(self, agents, routes):
        self.agents = dict((agent['id'], dict(agent)) for agent in agents)
        self.routes = dict(routes)
        self.writes = []
        self.dangling = []  # (write, number) where a number routed to no existing agent after the write
        self.made = 0

    def check(self, write):
        self.writes.append(write)
        self.dangling.extend((write, number) for number, agent_id in self.routes.items() if agent_id not in self.agents)

    def create_agent(self, name, language, settle=None):
        self.made += 1
        agent = {'id': 'agent_made%d' % self.made, 'name': name, 'language': language, 'status': 'active'}
        self.agents[agent['id']] = agent
        self.check(('create', name))
        return dict(agent, agent_token='agt_live_%d' % self.made)

    def update_agent(self, agent_id, changes):
        self.agents[agent_id].update(changes)
        self.check(('update', agent_id, changes.get('name')))
        return dict(self.agents[agent_id])

    def delete_agent(self, agent_id):
        assert agent_id not in self.routes.values(), 'the API refuses to delete an agent with routes'
        del self.agents[agent_id]
        self.check(('delete', agent_id))

    def set_route(self, number, agent_id, settle=None):
        assert agent_id in self.agents
        self.routes[number] = agent_id
        self.check(('map', number, agent_id))
        return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}

    def delete_route(self, number):
        raise AssertionError('a rotation never deletes a route')

    def book(self):
        return RouteBook([{'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id, 'status': 'connected'}
                          for number, agent_id in self.routes.items()], set(NUMBERS))

    def state(self):
        return read_rotation(list(self.agents.values()), NAME)


def run_finish(workspace, state, successor, drains, stage=0):
    plan = plan_finish(workspace, state, workspace.book(), successor, NAME, lambda: drains.append(list(workspace.routes.values())), stage)
    assert not plan.problems
    return WriteDoor(workers=4).apply(plan)


def test_no_successor_is_idle_and_the_rotation_id_names_the_old_agent():
    state = read_rotation([OLD, {'id': 'agent_x', 'name': 'dev-support-agent'}], NAME)

    assert (state.phase, state.canonical['id'], state.successor, state.rotation_id, state.problem) == (IDLE, 'agent_old', None, 'rotation-agent_old', None)


def test_a_successor_beside_the_old_agent_is_prepared_and_keeps_the_same_rotation_id():
    state = read_rotation([OLD, SUCCESSOR], NAME)

    assert (state.phase, state.successor['id'], state.old_id, state.rotation_id) == (PREPARED, 'agent_new', 'agent_old', 'rotation-agent_old')


def test_a_successor_alone_means_the_old_agent_was_deleted_and_only_the_rename_is_left():
    state = read_rotation([SUCCESSOR], NAME)

    assert (state.phase, state.canonical, state.rotation_id) == (OLD_DELETED, None, 'rotation-agent_old')


def test_two_successors_or_a_successor_of_another_agent_stop_the_rotation_naming_the_ids():
    second = dict(SUCCESSOR, id='agent_new2')
    two = read_rotation([OLD, SUCCESSOR, second], NAME)
    stray = read_rotation([dict(OLD, id='agent_other'), SUCCESSOR], NAME)

    assert two.problem.startswith('2 successors of agent %r exist (%s agent_new, %s agent_new2)' % (NAME, SUCCESSOR['name'], SUCCESSOR['name']))
    assert 'succeeds agent agent_old, but the agent named %r is agent_other' % NAME in stray.problem


def test_other_tasks_are_refused_while_a_rotation_is_in_progress_naming_it_and_how_to_finish_it():
    prepared = rotation_problem_in_progress([OLD, SUCCESSOR], NAME)

    assert rotation_problem_in_progress([OLD], NAME) is None
    assert rotation_problem_in_progress([SUCCESSOR], None) is None, "a task by an empty id names no agent"
    assert prepared.startswith("a credential rotation of agent 'prod-support-agent' is in progress (rotation-agent_old, successor %s, "
                               "agent_new): finish it first with piopiy.voice.piopiy_agent_rotation name=%s" % (SUCCESSOR['name'], NAME))
    assert prepared.endswith('or delete the successor to abandon it')


def test_a_task_by_id_is_refused_for_the_old_agent_and_for_its_successor_alike():
    prepared = rotation_problem_in_progress([OLD, SUCCESSOR], NAME)

    assert rotation_problem_of_agent([OLD, SUCCESSOR], OLD) == prepared
    assert rotation_problem_of_agent([OLD, SUCCESSOR], SUCCESSOR) == prepared
    assert rotation_problem_of_agent([OLD], OLD) is None
    assert rotation_problem_of_agent([OLD, SUCCESSOR], None) is None, "an id that names no agent is another task's problem"


def test_past_the_old_agents_delete_the_refusal_never_advises_deleting_the_successor():
    problem = rotation_problem_in_progress([SUCCESSOR], NAME)

    assert 'rotation-agent_old' in problem and 'piopiy.voice.piopiy_agent_rotation' in problem
    assert 'delete the successor' not in problem and 'the successor is the agent the runtime uses' in problem


def test_a_rotation_is_in_progress_even_where_the_state_has_a_problem():
    two_successors = read_rotation([OLD, SUCCESSOR, dict(SUCCESSOR, id='agent_new2')], NAME)
    two_named = read_rotation([OLD, dict(OLD, id='agent_old2'), SUCCESSOR], NAME)

    assert two_successors.problem and two_successors.in_progress
    assert two_named.problem and two_named.in_progress
    assert not read_rotation([OLD], NAME).in_progress
    assert rotation_problem_in_progress([OLD, dict(OLD, id='agent_old2'), SUCCESSOR], NAME).startswith(
        "a credential rotation of agent 'prod-support-agent' is in progress (rotation-agent_old")


def test_a_whole_rotation_from_idle_keeps_every_number_routed_and_never_deletes_a_route():
    workspace = Workspace([OLD], dict((number, 'agent_old') for number in NUMBERS))
    tokens, drains = [], []
    create, successor_id = plan_create_successor(workspace, workspace.state(), tokens.append)

    assert [(op.action, op.after['name'], op.after['language']) for op in create.operations] == [('create', successor_name(NAME, 'agent_old'), 'hi-IN')]
    outcomes = WriteDoor().apply(create)
    assert outcomes[0].applied and tokens == ['agt_live_1']
    assert workspace.state().phase == PREPARED

    state = workspace.state()
    outcomes = run_finish(workspace, state, state.successor, drains)

    assert all(outcome.applied for outcome in outcomes)
    assert workspace.dangling == []
    assert [write[0] for write in workspace.writes] == ['create', 'map', 'map', 'map', 'delete', 'update']
    assert drains == [['agent_made1'] * 3], 'the drain runs once, after every number moved, before the delete'
    assert list(workspace.agents.values()) == [{'id': 'agent_made1', 'name': NAME, 'language': 'hi-IN', 'status': 'active'}]
    assert workspace.state().phase == IDLE


def test_one_plan_from_idle_to_done_uses_the_successor_id_only_once_it_is_made():
    workspace = Workspace([OLD], dict((number, 'agent_old') for number in NUMBERS))
    state = workspace.state()
    create, unused_id = plan_create_successor(workspace, state, lambda token: None)
    plan = create.extend(plan_finish(workspace, state, workspace.book(), create.operations[0].after, NAME, lambda: None, stage=1))

    assert [op.stage for op in plan.operations] == [0, 1, 1, 1, 2, 3]
    assert all(outcome.applied for outcome in WriteDoor(workers=8).apply(plan))
    assert workspace.dangling == [] and set(workspace.routes.values()) == {'agent_made1'}
    assert workspace.agents['agent_made1']['name'] == NAME


def test_resume_after_some_numbers_moved_moves_only_the_rest():
    routes = {NUMBERS[0]: 'agent_new', NUMBERS[1]: 'agent_old', NUMBERS[2]: 'agent_old'}
    workspace = Workspace([OLD, SUCCESSOR], routes)
    state = workspace.state()

    run_finish(workspace, state, state.successor, [])

    # The two maps share a stage and run side by side (4 workers), in either order.
    assert sorted(workspace.writes[:2]) == [('map', NUMBERS[1], 'agent_new'), ('map', NUMBERS[2], 'agent_new')]
    assert workspace.writes[2:] == [('delete', 'agent_old'), ('update', 'agent_new', NAME)]
    assert workspace.dangling == []


def test_resume_after_the_delete_only_renames():
    workspace = Workspace([SUCCESSOR], dict((number, 'agent_new') for number in NUMBERS))
    state = workspace.state()
    plan = plan_finish(workspace, state, workspace.book(), state.successor, NAME, lambda: None)

    assert [(op.action, op.key) for op in plan.operations] == [('update', SUCCESSOR['name'])]
    WriteDoor().apply(plan)
    assert workspace.writes == [('update', 'agent_new', NAME)] and workspace.state().phase == IDLE


def test_a_failed_re_route_stops_the_delete_and_the_rename():
    workspace = Workspace([OLD, SUCCESSOR], dict((number, 'agent_old') for number in NUMBERS))

    def refuse(number, agent_id, settle=None):
        raise PiopiyAPIError('POST', '/v1/phone-number-routing', status=409, code='conflict')
    workspace.set_route = refuse
    state = workspace.state()
    outcomes = run_finish(workspace, state, state.successor, [])

    assert [outcome.status for outcome in outcomes] == ['failed'] * 3 + ['not sent', 'not sent']
    assert workspace.writes == [] and workspace.state().phase == PREPARED


def test_a_successor_whose_token_was_lost_is_replaced_by_one_successor_before_any_number_moves():
    workspace = Workspace([OLD, SUCCESSOR], dict((number, 'agent_old') for number in NUMBERS))
    state = workspace.state()
    plan, successor_id = plan_replace_lost_successor(workspace, state, workspace.book(), lambda token: None)

    assert [(op.action, op.stage) for op in plan.operations] == [('delete', 0), ('create', 1)]
    WriteDoor().apply(plan)
    assert workspace.writes == [('delete', 'agent_new'), ('create', SUCCESSOR['name'])]
    assert workspace.state().phase == PREPARED and workspace.state().successor['id'] == 'agent_made1'


def test_a_lost_successor_with_numbers_is_not_replaced():
    workspace = Workspace([OLD, SUCCESSOR], {NUMBERS[0]: 'agent_new'})
    plan, unused = plan_replace_lost_successor(workspace, workspace.state(), workspace.book(), lambda token: None)

    assert plan.operations == [] and 'has numbers routed to it (+19499800001)' in plan.problems[0]


def test_max_age_is_due_for_an_old_or_missing_token_only():
    now = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
    fresh = StoredCredentials(True, 'agent_old', now - datetime.timedelta(days=89))
    stale = StoredCredentials(True, 'agent_old', now - datetime.timedelta(days=90))

    assert due_reason(fresh, 90 * 86400, now) is None
    assert due_reason(stale, 90 * 86400, now).startswith('the token was issued 2026-08-28T12:00:00Z, 7776000 second(s) ago')
    assert due_reason(StoredCredentials(), 90 * 86400, now) == 'the token file holds no token'
