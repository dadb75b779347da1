# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet's checks, plan, stages and convergence rule, against an in-memory workspace. No HTTP."""

from __future__ import annotations

import itertools

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import PiopiyAPIError, PiopiyClient
from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import changed_underneath, created_twice
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import FAILED, Outcome, WriteDoor, report, was_skipped
from ansible_collections.piopiy.voice.plugins.module_utils.resource_workspace import (
    CreatedTokens,
    Environment,
    FleetState,
    guard_fleet,
    names_about,
    listed_elsewhere_problems,
    parse_fleet,
    plan_converge,
    plan_fleet,
    read_fleet,
    removal_problems,
    sorted_by_id,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import BUY_HINT, RouteBook

PURCHASED = ['+1949980000%d' % digit for digit in range(1, 10)]
N1, N2, N3, N4, N5 = PURCHASED[:5]


class Workspace:
    """An in-memory workspace with the client's methods; it notes every write in order."""

    def __init__(self, agents=(), routes=()):
        self.agents = dict((agent['id'], dict(agent)) for agent in agents)
        self.routes = dict((number, agent_id) for number, agent_id in routes)
        self.writes = []
        self.ids = itertools.count(100)
        self.purchased_pages = 0

    def list_agents(self):
        return [{'id': agent['id'], 'name': agent['name'], 'status': 'active'} for agent in self.agents.values()]

    def get_agent(self, agent_id):
        return dict(self.agents[agent_id], status='active') if agent_id in self.agents else None

    def create_agent(self, name, language, settle=None):
        agent_id = 'agent_%d' % next(self.ids)
        self.agents[agent_id] = {'id': agent_id, 'name': name, 'language': language}
        self.writes.append(('create', name))
        return dict(self.agents[agent_id], status='active', agent_token='agt_live_secret')

    def update_agent(self, agent_id, changes):
        self.agents[agent_id].update(changes)
        self.writes.append(('update', agent_id))
        return dict(self.agents[agent_id], status='active')

    def delete_agent(self, agent_id):
        if agent_id not in self.agents:
            raise PiopiyAPIError('DELETE', '/ai-agents/' + agent_id, status=404, code='not_found')
        if agent_id in self.routes.values():
            raise PiopiyAPIError('DELETE', '/ai-agents/' + agent_id, status=409, code='conflict')
        del self.agents[agent_id]
        self.writes.append(('delete', agent_id))
        return {}

    def list_routes(self, agent_id=None):
        return [self.get_route(number) for number, owner in self.routes.items() if agent_id in (None, owner)]

    def get_route(self, number):
        if number not in self.routes:
            return None
        return {'phone_number': number, 'route_type': 'ai_agent', 'agent_id': self.routes[number], 'status': 'connected'}

    def set_route(self, number, agent_id, settle=None):
        self.routes[number] = agent_id
        self.writes.append(('map', number, agent_id))
        return self.get_route(number)

    def delete_route(self, number):
        if number not in self.routes:
            raise PiopiyAPIError('DELETE', '/phone-number-routing/' + number, status=404, code='not_found')
        del self.routes[number]
        self.writes.append(('unmap', number))
        return {}

    def list_purchased_numbers(self, until=None):
        """The purchased numbers in pages of two, as far as until asks for."""
        items = []
        for start in range(0, len(PURCHASED), 2):
            page = [{'number': number} for number in PURCHASED[start:start + 2]]
            items.extend(page)
            self.purchased_pages = start // 2 + 1
            if until is not None and until(page):
                break
        return items

    def numbers_of(self, agent_id):
        return sorted(number for number, owner in self.routes.items() if owner == agent_id)


def fleet(*environments):
    parsed, problems = parse_fleet(list(environments))
    assert problems == []
    return parsed


def apply(workspace, environments, merge=True):
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4), merge)
    assert plan.problems == []
    return plan, WriteDoor(4).apply(plan)


# ---- the fleet checked as a whole, before anything is read ----

def test_every_conflict_of_the_fleet_is_named_with_its_environments():
    unused, problems = parse_fleet([
        {'environment': 'dev', 'phone_numbers': [N1, N2]},
        {'environment': 'prod', 'phone_numbers': ['+1 (949) 980-0002', 'call me']},
        {'environment': 'qa', 'name': 'prod-support-agent'},
        {'environment': 'dev'},
        {'environment': ' '},
        {'environment': 'uk', 'language': 'english'},
    ])

    assert problems == [
        "environment prod: phone_numbers has 1 malformed phone number(s): 'call me'. Use E.164, a + and 8 to 15 digits "
        'not starting with 0, such as +19499800001',
        "environment 'dev' is listed more than once: list each environment once",
        'environments[4] has no environment name: give each item an environment, such as prod',
        "environment uk: language 'english' is not a BCP 47 tag: use a tag such as en-US, en-IN, hi-IN or ta-IN",
        'number +19499800002 is listed by 2 environments (dev, prod): a number routes to one agent; list it in one environment',
        "agent name 'prod-support-agent' is used by 2 environments (prod, qa): they would share one agent and fight over its "
        'numbers; give each environment its own agent name',
    ]


def test_two_environments_that_keep_new_credentials_in_one_token_file_are_refused(tmp_path):
    path = str(tmp_path / 'agent.env')
    unused, problems = parse_fleet([
        {'environment': 'dev', 'phone_numbers': [N1], 'token_file': path},
        {'environment': 'prod', 'phone_numbers': [N2], 'token_file': path},
        {'environment': 'gone', 'state': 'absent', 'token_file': path},  # removed: it keeps no new credentials
    ])
    assert problems == ["token_file %s is used by 2 environments (dev, prod): each would overwrite the credentials of the "
                        "other's agent; give each environment its own file" % path]


def test_an_environment_defaults_to_the_roles_agent_name_and_an_exclusive_list():
    environment, = fleet({'environment': 'dev', 'phone_numbers': ['+1 949 980 0001']})
    assert (environment.name, environment.numbers, environment.exclusive, environment.language) == ('dev-support-agent', [N1], True, None)


def test_numbers_not_purchased_are_named_per_environment_and_nothing_is_planned_to_be_sent():
    workspace = Workspace()
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1, '+15550000001']}, {'environment': 'prod', 'phone_numbers': ['+15550000002']})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))

    assert plan.problems == [
        'environment dev: 1 number(s) are not purchased in this workspace: +15550000001. Nothing was changed: ' + BUY_HINT,
        'environment prod: 1 number(s) are not purchased in this workspace: +15550000002. Nothing was changed: ' + BUY_HINT,
    ]
    assert plan.facts['numbers'] == ['+15550000001', '+15550000002'] and workspace.writes == []


def test_a_number_an_environment_outside_the_task_lists_is_never_taken_from_it():
    # --limit dev: N2 moved to prod (left out) since dev's last run. Applied alone, dev would unmap it; a removed dev, too.
    workspace = Workspace([{'id': 'agent_d', 'name': 'dev-support-agent'}], [(N1, 'agent_d'), (N2, 'agent_d')])
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1]})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))

    assert listed_elsewhere_problems(plan, {N2: 'prod', N4: 'prod'}) == [
        'environment dev: the task would unmap +19499800002 (listed by prod), a number of an environment this task does not '
        'apply. Nothing was changed: apply them together (playbooks/support_agent.yml: without --limit, or with prod too), so '
        'that each number goes to the environment that lists it']
    assert listed_elsewhere_problems(plan, {N4: 'prod'}) == []
    removed = fleet({'environment': 'dev', 'state': 'absent'})
    plan = plan_fleet(workspace, removed, read_fleet(workspace, removed, 4))
    assert [problem.partition(' (listed')[0] for problem in listed_elsewhere_problems(plan, {N2: 'prod'})] == [
        'environment dev: the task would unmap +19499800002']


# ---- a credential rotation in progress ----

def test_an_environment_whose_agent_is_being_rotated_is_refused_and_nothing_is_planned_for_it():
    successor = {'id': 'agent_b', 'name': 'prod-support-agent--rotating-agent_a'}
    workspace = Workspace([{'id': 'agent_a', 'name': 'prod-support-agent'}, successor, {'id': 'agent_c', 'name': 'dev-support-agent'}],
                          [(N1, 'agent_a'), (N2, 'agent_b'), (N3, 'agent_c')])
    environments = fleet({'environment': 'prod', 'phone_numbers': [N1, N2]}, {'environment': 'dev', 'phone_numbers': [N3]})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))

    assert plan.problems == [
        "environment prod: a credential rotation of agent 'prod-support-agent' is in progress (rotation-agent_a, successor "
        "prod-support-agent--rotating-agent_a, agent_b): finish it first with piopiy.voice.piopiy_agent_rotation name=prod-support-agent "
        "and the token_file it writes (in the support_agent role: support_agent_rotate=now), or delete the successor to abandon it"]
    assert plan.operations == []


def test_a_rotation_an_earlier_task_finishes_leaves_its_environment_out_of_the_prediction_and_the_others_planned():
    successor = {'id': 'agent_b', 'name': 'prod-support-agent--rotating-agent_a'}
    workspace = Workspace([{'id': 'agent_a', 'name': 'prod-support-agent'}, successor, {'id': 'agent_c', 'name': 'dev-support-agent'}],
                          [(N1, 'agent_a'), (N2, 'agent_b'), (N3, 'agent_c')])
    environments = fleet({'environment': 'prod', 'phone_numbers': [N1, N2]}, {'environment': 'dev', 'phone_numbers': [N3, N4]})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4), rotated={'prod'})

    # prod is neither refused nor planned (its numbers stay listed, so dev's plan unmaps none of them); dev is planned.
    assert plan.problems == []
    assert [(operation.owner, operation.action, operation.key) for operation in plan.operations] == [('dev', 'map', N4)]


def test_past_the_old_agents_delete_the_fleet_neither_creates_the_agent_again_nor_moves_numbers_off_the_successor():
    # A rotation stopped after the old agent's delete: only the successor is left, and the runtime already uses it.
    workspace = Workspace([{'id': 'agent_b', 'name': 'prod-support-agent--rotating-agent_a'}], [(N1, 'agent_b'), (N2, 'agent_b')])
    environments = fleet({'environment': 'prod', 'phone_numbers': [N1, N2]})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))

    assert len(plan.problems) == 1 and plan.problems[0].startswith(
        "environment prod: a credential rotation of agent 'prod-support-agent' is in progress (rotation-agent_a")
    assert [(operation.action, operation.key) for operation in plan.operations] == []


# ---- guard rails: the whole fleet's cap, each environment's cap, protected numbers ----

def guarded(environments, **guards):
    workspace = Workspace([{'id': 'agent_a', 'name': 'dev-support-agent'}, {'id': 'agent_b', 'name': 'prod-support-agent'}],
                          [(N1, 'agent_a'), (N2, 'agent_a'), (N3, 'agent_b')])
    parsed, problems = parse_fleet(environments)
    assert problems == []
    plan = plan_fleet(workspace, parsed, read_fleet(workspace, parsed, 4))
    return guard_fleet(plan, parsed, **guards), workspace


def test_the_fleets_cap_counts_the_route_changes_of_every_environment_together():
    environments = [{'environment': 'dev', 'phone_numbers': [N1, N2, N4]}, {'environment': 'prod', 'phone_numbers': [N3, N5]}]

    assert guarded(environments, max_changes=2)[0] == []
    problems, workspace = guarded(environments, max_changes=1)
    assert problems == ['the task would make 2 route change(s), more than max_route_changes=1: map %s, map %s. Nothing was '
                        'changed: check the numbers, or raise max_route_changes for a change this big' % (N4, N5)]
    assert workspace.writes == []


def test_an_environments_own_cap_counts_only_its_changes_and_names_it():
    problems, unused = guarded([{'environment': 'dev', 'phone_numbers': [N1, N2, N4], 'max_route_changes': 1},
                                {'environment': 'prod', 'phone_numbers': [N3, N5], 'max_route_changes': 0}])

    # The fix names the environment's option and the variable that sets it in playbooks/support_agent.yml.
    assert problems == ['environment prod: the task would make 1 route change(s), more than max_route_changes=0: map %s. Nothing '
                        "was changed: check the numbers, or raise the environment's max_route_changes (playbooks/support_agent.yml: "
                        'support_agent_max_route_changes) for a change this big' % N5]


def test_a_protected_number_changes_only_in_an_environment_that_lists_it_and_allows_it():
    taking = [{'environment': 'dev', 'phone_numbers': [N1, N2]}, {'environment': 'prod', 'phone_numbers': [N1, N3]}]
    refused = ['environment prod: the task would re-route or unroute protected number(s): %s (map). Nothing was changed: a protected '
               'number is re-routed or unrouted only by an environment that lists it and sets allow_protected_changes=true '
               '(playbooks/support_agent.yml: support_agent_allow_protected_changes: true)' % N1]
    conflicts = parse_fleet(taking)[1]
    assert conflicts  # two environments listing N1 is refused anyway: move it by listing it in prod only
    moving = [{'environment': 'dev', 'phone_numbers': [N2]}, {'environment': 'prod', 'phone_numbers': [N1, N3]}]

    assert guarded(moving, protected=[N1])[0] == refused
    assert guarded(moving, protected=[N1], allow_protected=True)[0] == []
    assert guarded([dict(moving[0]), dict(moving[1], allow_protected_changes=True)], protected=[N1])[0] == []
    assert guarded([dict(moving[0]), dict(moving[1], allow_protected_changes=False)], protected=[N1], allow_protected=True)[0] == refused


def test_a_negative_cap_of_an_environment_is_an_input_problem():
    assert parse_fleet([{'environment': 'dev', 'max_route_changes': -1}])[1] == ['environment dev: max_route_changes must be 0 or more, got -1']


def test_purchased_numbers_are_walked_only_until_every_unrouted_number_is_found():
    workspace = Workspace([{'id': 'agent_d', 'name': 'dev-support-agent'}], [(N5, 'agent_d')])
    environments = fleet({'environment': 'dev', 'phone_numbers': [N5, N3]})
    state = read_fleet(workspace, environments, 4)
    # N5 routes to dev's agent already, so only N3 is looked for: it is on the second of five pages of two, and the walk
    # stops there.
    assert workspace.purchased_pages == 2 and plan_fleet(workspace, environments, state).problems == []


def test_a_number_moving_to_another_environment_is_looked_for_and_refused_before_any_write_when_no_longer_purchased():
    # +15550000009 still routes to dev's agent though the workspace no longer has it (released, its route left behind).
    released = '+15550000009'
    workspace = Workspace([{'id': 'agent_d', 'name': 'dev-support-agent'}], [(N1, 'agent_d'), (released, 'agent_d')])
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1]}, {'environment': 'prod', 'phone_numbers': [released]})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))

    assert workspace.purchased_pages == 5 and plan.facts['numbers'] == [released]
    assert plan.problems == ['environment prod: 1 number(s) are not purchased in this workspace: %s. Nothing was changed: %s'
                             % (released, BUY_HINT)]


def test_a_number_not_purchased_walks_every_page_of_purchased_numbers():
    workspace = Workspace()
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1, '+15550000001']})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))
    assert workspace.purchased_pages == 5 and plan.facts['numbers'] == ['+15550000001']


# ---- stages: agents, then every map, then unmaps ----

def test_a_number_moved_between_environments_is_mapped_to_its_new_agent_and_never_unmapped():
    workspace = Workspace([{'id': 'agent_a', 'name': 'dev-support-agent'}, {'id': 'agent_b', 'name': 'prod-support-agent'}],
                          [(N1, 'agent_a'), (N2, 'agent_a'), (N3, 'agent_b')])
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1]}, {'environment': 'prod', 'phone_numbers': [N3, N2]})
    plan, outcomes = apply(workspace, environments)

    assert [(operation.stage, operation.action, operation.key) for operation in plan.operations] == [(1, 'map', N2)]
    assert workspace.numbers_of('agent_a') == [N1] and workspace.numbers_of('agent_b') == [N2, N3]
    assert [outcome.operation.owner for outcome in outcomes] == ['prod']


def test_every_map_of_every_environment_is_sent_before_any_unmap_whatever_the_order_of_the_environments():
    before = ([{'id': 'agent_a', 'name': 'dev-support-agent'}, {'id': 'agent_b', 'name': 'prod-support-agent'}],
              [(N1, 'agent_a'), (N2, 'agent_a'), (N3, 'agent_b'), (N4, 'agent_b')])
    dev = {'environment': 'dev', 'phone_numbers': [N3]}  # takes N3 from prod, drops N1 and N2
    prod = {'environment': 'prod', 'phone_numbers': [N1, N4]}  # takes N1 from dev, drops N3 to dev
    finals = []
    for order in ((dev, prod), (prod, dev)):
        workspace = Workspace(*before)
        apply(workspace, fleet(*order))
        kinds = [write[0] for write in workspace.writes]
        assert kinds == sorted(kinds, key=['map', 'unmap'].index), workspace.writes
        assert ('unmap', N2) in workspace.writes and ('unmap', N1) not in workspace.writes and ('unmap', N3) not in workspace.writes
        finals.append(dict(workspace.routes))
    assert finals[0] == finals[1] == {N3: 'agent_a', N1: 'agent_b', N4: 'agent_b'}


def test_new_agents_are_created_in_the_first_stage_and_their_numbers_mapped_to_the_ids_they_get():
    workspace = Workspace()
    plan, outcomes = apply(workspace, fleet({'environment': 'dev', 'phone_numbers': [N1]}, {'environment': 'prod', 'phone_numbers': [N2]}))

    assert [(operation.stage, operation.action) for operation in plan.operations] == [(0, 'create'), (1, 'map'), (0, 'create'), (1, 'map')]
    by_name = dict((agent['name'], agent['id']) for agent in workspace.agents.values())
    assert workspace.routes == {N1: by_name['dev-support-agent'], N2: by_name['prod-support-agent']}
    assert report(outcomes)[2] is True


def test_an_unmap_reads_the_route_fresh_and_leaves_a_number_that_now_routes_elsewhere():
    workspace = Workspace([{'id': 'agent_a', 'name': 'dev-support-agent'}], [(N1, 'agent_a'), (N2, 'agent_a')])
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1]})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))
    workspace.routes[N2] = 'agent_of_another_run'  # taken over after the read
    outcomes = WriteDoor(2).apply(plan)

    assert workspace.routes[N2] == 'agent_of_another_run'
    assert [was_skipped(outcome) for outcome in outcomes] == [True]
    assert report([outcome for outcome in outcomes if not was_skipped(outcome)]) == ([], [], False)


def test_a_non_exclusive_environment_keeps_the_numbers_it_does_not_list():
    workspace = Workspace([{'id': 'agent_a', 'name': 'dev-support-agent'}], [(N1, 'agent_a'), (N2, 'agent_a')])
    plan, unused = apply(workspace, fleet({'environment': 'dev', 'phone_numbers': [N1], 'exclusive': False}))
    assert plan.operations == [] and workspace.numbers_of('agent_a') == [N1, N2]


def test_an_unchanged_fleet_reads_each_list_once_and_plans_nothing():
    workspace = Workspace([{'id': 'agent_a', 'name': 'dev-support-agent'}], [(N1, 'agent_a')])
    calls = []
    for name in ('list_agents', 'list_routes', 'list_purchased_numbers', 'get_agent'):
        original = getattr(workspace, name)
        setattr(workspace, name, lambda *args, _name=name, _original=original, **kwargs: calls.append(_name) or _original(*args, **kwargs))
    plan, unused = apply(workspace, fleet({'environment': 'dev', 'phone_numbers': [N1]}))
    # Every listed number has a route, so it is purchased: the purchased numbers are not read; no language asked, no agent read.
    assert plan.operations == [] and sorted(calls) == ['list_agents', 'list_routes']


# ---- convergence: one agent per name ----

def test_agents_sharing_a_fleet_name_are_merged_into_the_lowest_id_after_their_numbers_move():
    workspace = Workspace([{'id': 'agent_2', 'name': 'dev-support-agent'}, {'id': 'agent_1', 'name': 'dev-support-agent'}],
                          [(N1, 'agent_2'), (N2, 'agent_2'), (N3, 'agent_1')])
    plan, outcomes = apply(workspace, fleet({'environment': 'dev', 'phone_numbers': [N1, N3]}))

    assert workspace.routes == {N1: 'agent_1', N3: 'agent_1'} and list(workspace.agents) == ['agent_1']
    assert workspace.writes[-1] == ('delete', 'agent_2')
    assert [(operation.stage, operation.action, operation.key) for operation in plan.operations] == [
        (1, 'map', N1), (2, 'unmap', N2), (3, 'delete', 'dev-support-agent')]
    assert all(outcome.applied for outcome in outcomes)


def test_an_extra_agent_is_deleted_only_after_the_map_that_moves_its_number_to_another_environment():
    workspace = Workspace([{'id': 'agent_1', 'name': 'dev-support-agent'}, {'id': 'agent_2', 'name': 'dev-support-agent'},
                           {'id': 'agent_3', 'name': 'prod-support-agent'}], [(N1, 'agent_2')])
    plan, unused = apply(workspace, fleet({'environment': 'dev'}, {'environment': 'prod', 'phone_numbers': [N1]}))
    delete = next(operation for operation in plan.operations if operation.action == 'delete')
    assert [(operation.action, operation.key) for operation in delete.requires] == [('map', N1)]
    assert workspace.routes == {N1: 'agent_3'} and sorted(workspace.agents) == ['agent_1', 'agent_3']


def test_with_merging_off_duplicate_names_are_a_problem_naming_the_ids():
    workspace = Workspace([{'id': 'agent_2', 'name': 'dev-support-agent'}, {'id': 'agent_1', 'name': 'dev-support-agent'}])
    environments = fleet({'environment': 'dev'})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4), merge_duplicates=False)
    assert plan.problems == ["environment dev: 2 agents are named 'dev-support-agent' (ids: agent_1, agent_2): set merge_duplicate_agents=true "
                             'to keep the lowest id and merge the others into it, or delete the extra agents']


def test_two_runs_that_both_created_an_agent_converge_on_the_lowest_id_whichever_plans_the_merge():
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1, N2]})
    # Each run mapped the numbers to its own agent before it saw the other's; either one's next round merges.
    for routed in ([(N1, 'agent_2'), (N2, 'agent_1')], [(N1, 'agent_2'), (N2, 'agent_2')]):
        workspace = Workspace([{'id': 'agent_2', 'name': 'dev-support-agent'}, {'id': 'agent_1', 'name': 'dev-support-agent'}], routed)
        plan, unused = apply(workspace, environments)
        assert list(workspace.agents) == ['agent_1'] and workspace.routes == {N1: 'agent_1', N2: 'agent_1'}
        assert plan.agent_of == {'dev': 'agent_1'}


def test_a_merge_that_finds_the_extra_agent_already_deleted_by_the_other_run_is_no_change():
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1]})
    workspace = Workspace([{'id': 'agent_1', 'name': 'dev-support-agent'}, {'id': 'agent_2', 'name': 'dev-support-agent'}], [(N1, 'agent_1')])
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))
    del workspace.agents['agent_2']  # the concurrent run merged first
    outcomes = WriteDoor(1).apply(plan)
    assert [was_skipped(outcome) for outcome in outcomes] == [True]


def test_another_round_follows_an_agent_created_twice_or_a_write_that_met_a_concurrent_change():
    workspace = Workspace()
    environments = fleet({'environment': 'dev'})
    unused, outcomes = apply(workspace, environments)  # creates dev-support-agent
    assert created_twice(workspace, outcomes) == set() and created_twice(workspace, []) == set()
    workspace.agents['agent_0'] = {'id': 'agent_0', 'name': 'dev-support-agent'}  # ...and a concurrent run made one too
    assert created_twice(workspace, outcomes) == {'dev-support-agent'}

    def failed(status):
        return Outcome(outcomes[0].operation, FAILED, error=PiopiyAPIError('DELETE', '/ai-agents/agent_2', status=status))
    assert changed_underneath([failed(409)]) and changed_underneath([failed(404)]) and not changed_underneath([failed(403)])


def test_the_agent_kept_of_several_is_the_lowest_id():
    agents = [{'id': 'agent_2', 'name': 'dev-support-agent'}, {'id': 'agent_1', 'name': 'dev-support-agent'}]
    assert [agent['id'] for agent in FleetState(agents, None).agents_named('dev-support-agent')] == ['agent_1', 'agent_2']


def test_the_summary_of_a_workspace_counts_its_agents_and_names_the_lowest_id():
    # Agent ids are the API's own: the lowest one read tells one workspace from another whatever key read it.
    agents = [{'id': 'agent_b7', 'name': 'prod-support-agent'}, {'id': 'agent_0c', 'name': 'dev-support-agent'}]
    assert FleetState(agents, None).summary() == {'agents': 2, 'lowest_agent_id': 'agent_0c'}
    assert FleetState([], None).summary() == {'agents': 0, 'lowest_agent_id': None}


# ---- the client's rate cap and 429 budget ----

def test_the_rate_cap_spaces_the_starts_of_requests():
    slept = []
    client = PiopiyClient('pk_test_x', 'http://127.0.0.1:9/v1', sleep=slept.append, max_requests_per_second=10)
    for unused in range(3):
        client._wait_for_rate_cap()
    assert len(slept) == 2 and 0.15 < sum(slept) <= 0.3


def test_without_a_cap_nothing_waits_and_a_429_is_retried_longer_than_other_failures():
    slept = []
    client = PiopiyClient('pk_test_x', 'http://127.0.0.1:9/v1', sleep=slept.append, rate_limited_attempts=20)
    client._wait_for_rate_cap()
    assert slept == []
    assert client._may_retry('POST', 429, 19) and not client._may_retry('POST', 429, 20)
    assert not client._may_retry('GET', 503, 5) and client._may_retry('GET', 503, 4)


# ---- the convergence rule as its own plan (piopiy_agent after its create) ----

def converge(workspace, numbers, exclusive):
    """plan_converge for the name 'one', as piopiy_agent plans it once its create is applied: agents listed, then routes read."""
    matches = sorted_by_id(workspace.list_agents(), 'one')
    plan = plan_converge(workspace, RouteBook(workspace.list_routes()), Environment('one', 'one', None, numbers, exclusive), matches)
    return plan, WriteDoor(4).apply(plan)


def test_converging_onto_a_concurrent_runs_agent_moves_this_runs_numbers_then_deletes_its_own_agent():
    # This run created agent_2 and mapped its numbers; a concurrent run's agent_1 has the lower id.
    workspace = Workspace([{'id': 'agent_2', 'name': 'one'}, {'id': 'agent_1', 'name': 'one'}, {'id': 'agent_9', 'name': 'other'}],
                          [(N1, 'agent_2'), (N2, 'agent_2'), (N4, 'agent_9')])
    plan, outcomes = converge(workspace, [N1, N2], exclusive=True)

    assert [(operation.stage, operation.action, operation.key) for operation in plan.operations] == [
        (1, 'map', N1), (1, 'map', N2), (3, 'delete', 'one')]
    assert [(operation.action, operation.key) for operation in plan.operations[-1].requires] == [('map', N1), ('map', N2)]
    assert sorted(workspace.agents) == ['agent_1', 'agent_9'] and workspace.routes == {N1: 'agent_1', N2: 'agent_1', N4: 'agent_9'}
    assert workspace.writes[-1] == ('delete', 'agent_2') and all(outcome.applied for outcome in outcomes)


def test_converging_keeps_this_runs_agent_with_the_lower_id_and_takes_the_numbers_the_other_run_mapped():
    # The concurrent run (agent_2) mapped a listed number and a number this task does not list.
    routed = [(N1, 'agent_1'), (N2, 'agent_2'), (N3, 'agent_2')]
    for exclusive, left in ((True, {N1: 'agent_1', N2: 'agent_1'}), (False, {N1: 'agent_1', N2: 'agent_1', N3: 'agent_1'})):
        workspace = Workspace([{'id': 'agent_1', 'name': 'one'}, {'id': 'agent_2', 'name': 'one'}], routed)
        plan, unused = converge(workspace, [N1, N2], exclusive)
        assert list(workspace.agents) == ['agent_1'] and workspace.routes == left
        assert [operation.action for operation in plan.operations] == ['map', 'unmap' if exclusive else 'map', 'delete']


def test_converging_with_no_numbers_listed_moves_every_number_of_the_others_and_unmaps_nothing():
    workspace = Workspace([{'id': 'agent_1', 'name': 'one'}, {'id': 'agent_3', 'name': 'one'}, {'id': 'agent_2', 'name': 'one'}],
                          [(N1, 'agent_3'), (N2, 'agent_2')])
    plan, unused = converge(workspace, [], exclusive=False)
    assert list(workspace.agents) == ['agent_1'] and workspace.routes == {N1: 'agent_1', N2: 'agent_1'}
    assert [operation.action for operation in plan.operations].count('delete') == 2


def test_converging_after_the_other_run_deleted_this_runs_agent_routes_the_numbers_to_the_one_left():
    workspace = Workspace([{'id': 'agent_1', 'name': 'one'}], [(N1, 'agent_1')])
    plan, unused = converge(workspace, [N1, N2], exclusive=True)
    assert [(operation.action, operation.key) for operation in plan.operations] == [('map', N2)]
    assert workspace.routes == {N1: 'agent_1', N2: 'agent_1'}


# ---- environments removed, and the tokens of new agents ----

def test_an_environment_removed_unmaps_its_numbers_and_then_deletes_its_agent_and_a_number_another_lists_moves_to_it():
    workspace = Workspace([{'id': 'agent_1', 'name': 'old-support-agent'}, {'id': 'agent_2', 'name': 'new-support-agent'}],
                          [(N1, 'agent_1'), (N2, 'agent_1')])
    plan, outcomes = apply(workspace, fleet({'environment': 'old', 'state': 'absent'}, {'environment': 'new', 'phone_numbers': [N2]}))

    assert workspace.routes == {N2: 'agent_2'} and list(workspace.agents) == ['agent_2']
    assert [(operation.stage, operation.action, operation.key) for operation in plan.operations] == [
        (2, 'unmap', N1), (1, 'map', N2), (3, 'delete', 'old-support-agent')]
    assert [operation.owner for operation in plan.operations] == ['old', 'new', 'old']
    assert workspace.writes.index(('delete', 'agent_1')) > workspace.writes.index(('map', N2, 'agent_2'))
    assert all(outcome.applied for outcome in outcomes)


def test_a_removal_is_refused_unless_confirmed_and_an_environment_already_gone_needs_no_confirmation():
    workspace = Workspace([{'id': 'agent_1', 'name': 'old-support-agent'}], [(N1, 'agent_1')])
    environments = fleet({'environment': 'old', 'state': 'absent'}, {'environment': 'gone', 'state': 'absent'})
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4))

    assert removal_problems(plan, environments, []) == [
        'environment old is to be removed (state absent): agent old-support-agent would be deleted and 1 number(s) unmapped: '
        '+19499800001. Nothing was changed: confirm the removal by naming it in confirm_removal (playbooks/support_agent.yml: '
        '-e confirm=old)']
    assert removal_problems(plan, environments, ['old']) == []


def test_an_environment_to_remove_lists_no_number():
    unused, problems = parse_fleet([{'environment': 'old', 'state': 'absent', 'phone_numbers': [N1]}])
    assert problems == ['environment old: state absent removes the environment and its numbers, yet it lists 1 phone number(s): '
                        'leave phone_numbers out, or set state present']


def test_the_token_of_a_new_agent_goes_to_its_environments_file_with_the_id_the_api_confirmed(tmp_path):
    path = tmp_path / 'dev.env'
    workspace = Workspace([{'id': 'agent_1', 'name': 'prod-support-agent'}])
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1], 'token_file': str(path), 'token_file_format': 'env'},
                         {'environment': 'prod', 'phone_numbers': [N2], 'token_file': str(tmp_path / 'prod.token')})
    tokens = CreatedTokens()
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4), True, tokens.keeper)
    tokens.write_created(WriteDoor(2).apply(plan))

    new_id, = [agent_id for agent_id, agent in workspace.agents.items() if agent['name'] == 'dev-support-agent']
    text = path.read_text()
    assert 'AGENT_ID=%s\n' % new_id in text and 'AGENT_TOKEN=agt_live_secret\n' in text
    assert path.stat().st_mode & 0o777 == 0o600
    # prod's agent existed: no token, no file.
    assert tokens.files == {'dev': str(path)} and not (tmp_path / 'prod.token').exists() and tokens.problems == []


def test_a_new_agent_whose_token_was_lost_with_its_answer_fails_naming_its_file(tmp_path):
    # A create settled by a read-back: the agent exists, and its token, only ever in the lost answer, is gone.
    class LostAnswers(Workspace):
        def create_agent(self, name, language, settle=None):
            created = Workspace.create_agent(self, name, language, settle)
            del created['agent_token']
            return created
    path = tmp_path / 'dev.env'
    workspace = LostAnswers()
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1], 'token_file': str(path), 'token_file_format': 'env'})
    tokens = CreatedTokens()
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4), True, tokens.keeper)
    tokens.write_created(WriteDoor(2).apply(plan))

    new_id, = workspace.agents
    assert tokens.problems == [
        'environment dev: its agent %s was created, but the answer carrying its token was lost on the network, so nothing was '
        'written to %s: rotate the agent for a new token (playbooks/support_agent.yml: support_agent_rotate=now)' % (new_id, path)]
    assert not path.exists() and tokens.files == {}


def test_token_dir_keeps_the_token_of_an_environment_without_its_own_file(tmp_path):
    workspace = Workspace()
    environments = fleet({'environment': 'dev', 'phone_numbers': [N1]})
    tokens = CreatedTokens(str(tmp_path))
    plan = plan_fleet(workspace, environments, read_fleet(workspace, environments, 4), True, tokens.keeper)
    tokens.write_created(WriteDoor(2).apply(plan))
    assert (tmp_path / 'dev.token').read_text() == 'agt_live_secret\n' and tokens.files == {'dev': str(tmp_path / 'dev.token')}


def test_a_token_file_that_cannot_be_written_and_bad_env_names_are_input_problems(tmp_path):
    (tmp_path / 'plain').write_text('x')
    unused, problems = parse_fleet([{'environment': 'dev', 'phone_numbers': [N1], 'token_file': str(tmp_path / 'plain' / 'dev.env'),
                                     'token_env_names': {'token': 'AGENT_ID'}}])
    assert problems == [
        'environment dev: token_env_names must name two different variables, neither of them PIOPIY_TOKEN_ISSUED_AT: got AGENT_ID and AGENT_ID',
        'environment dev: token_file %s cannot be written (%s is not a directory): fix the path before creating an agent'
        % (tmp_path / 'plain' / 'dev.env', tmp_path / 'plain')]


def test_an_agent_is_about_its_own_name_and_a_successor_about_the_name_it_succeeds():
    assert names_about('prod-support-agent') == ['prod-support-agent']
    assert names_about('prod-support-agent--rotating-agent_1') == ['prod-support-agent--rotating-agent_1', 'prod-support-agent']
    assert names_about('a--rotating-b--rotating-c') == ['a--rotating-b--rotating-c', 'a', 'a--rotating-b']


def test_the_state_finds_an_environments_agents_and_successors_from_one_index():
    agents = [{'id': 'agent_9', 'name': 'prod'}, {'id': 'agent_2', 'name': 'prod'}, {'id': 'agent_3', 'name': 'prod--rotating-agent_2'},
              {'id': 'agent_4', 'name': 'production'}, {'id': 'agent_5', 'name': 'dev'}]
    state = FleetState(agents, RouteBook({}))

    assert [agent['id'] for agent in state.agents_named('prod')] == ['agent_2', 'agent_9']
    assert sorted(agent['id'] for agent in state.agents_about('prod')) == ['agent_2', 'agent_3', 'agent_9']
    assert state.agents_about('staging') == [] and [agent['id'] for agent in state.agents_named('dev')] == ['agent_5']
