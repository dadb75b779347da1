# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the piopiy_number_route task: its options, and phone numbers routed to an agent or unrouted.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import NEW_AGENT, Lookup, find_by_id, find_by_name
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Pending, Plan, rendered
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import (
    PiopiyTask,
    TaskReport,
    empty_id_problems,
    empty_name_problems,
    guard_rails,
    parallel_requests_problem,
    warn_routes_unknown,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import rotation_problem_in_progress, rotation_problem_of_agent
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import (
    RouteBook,
    disconnected,
    guard_problems,
    parse_phone_numbers,
    plan_routes_absent,
    plan_routes_present,
)


@dataclass
class RouteState:
    """What a route task read: the routes and purchased numbers, the agent's id (None: no agent, or none given), and the
    problem of finding the agent."""

    book: RouteBook
    agent_id: str = None
    problem: str = None


class RouteTask(PiopiyTask):
    """The routes of the listed numbers: to one agent (present), or none (absent)."""

    kind = 'routes'

    def __init__(self, module):
        super().__init__(module)
        option = 'phone_numbers' if self.params['phone_numbers'] is not None else 'phone_number'
        raw = self.params['phone_numbers'] if option == 'phone_numbers' else [self.params['phone_number']]
        self.numbers, self.number_problems = parse_phone_numbers(option, raw)
        self.guards, self.guard_problems = guard_rails(self.params)

    def validate(self):
        return (self.number_problems + self.guard_problems + empty_id_problems(self.params, 'agent_id')
                + empty_name_problems(self.params, 'agent_name') + [parallel_requests_problem(self.params['parallel_requests'])])

    def read(self, client, round_number):
        state = self.read_agent(client)
        # The numbers already routed to the agent they are mapped to need no look in the purchased list (unmapped: all do).
        target = state.agent_id if self.params['state'] == 'present' else None
        state.book = RouteBook.read(client, numbers=self.numbers, target=target)
        warn_routes_unknown(self.module, client, state.book)
        return state

    def read_agent(self, client):
        """The RouteState of the agent named by agent_id or agent_name (no book yet): its id, or the problem of finding it."""
        agent_id, name = self.params['agent_id'], self.params['agent_name']
        if not (agent_id or name):
            return RouteState(None)
        # The agents' list finds the agent and tells a rotation in progress, whose routes are the rotation's until it completes.
        agents = client.list_agents()
        if agent_id:
            listed = [agent for agent in agents if agent.get('id') == agent_id]
            # Not listed yet (a list may lag a create): ask for the agent itself.
            lookup = Lookup(listed[0]) if listed else find_by_id(client, agent_id)
            rotation = rotation_problem_of_agent(agents, lookup.agent)
        else:
            rotation = rotation_problem_in_progress(agents, name)
            lookup = find_by_name(client, name, 'agent_id', agents=agents, with_language=False)
        if rotation:
            return RouteState(None, None, rotation)
        return RouteState(None, lookup.agent['id'] if lookup.agent else None, lookup.problem)

    def plan(self, client, state, round_number):
        plan = self.plan_routes(client, state)
        plan.problems.extend(guard_problems(plan, set(self.numbers), **self.guards))
        return plan

    def plan_routes(self, client, state):
        book, agent_id, params = state.book, state.agent_id, self.params
        plan = Plan(problems=[state.problem] if state.problem else [])
        has_agent = bool(params['agent_id'] or params['agent_name'])
        if params['state'] == 'absent':
            if has_agent and agent_id is None:
                return plan.extend(book.not_purchased(self.numbers))  # the agent does not exist, so no route points to it
            return plan.extend(plan_routes_absent(client, book, self.numbers, agent_id))
        if agent_id is None and has_agent and not state.problem:
            if self.module.check_mode and params['agent_name']:
                agent_id = Pending(NEW_AGENT)  # an earlier task of the play would have created it
            else:
                what = 'with id %s' % params['agent_id'] if params['agent_id'] else 'named %r' % params['agent_name']
                plan.problems.append('no agent %s in this workspace: create it first with piopiy.voice.piopiy_agent, or check %s'
                                     % (what, 'agent_id' if params['agent_id'] else 'agent_name'))
        return plan.extend(plan_routes_present(client, book, self.numbers, agent_id, params['exclusive']))

    def result(self, loop):
        book, outcomes = loop.first.state.book, loop.outcomes
        touched = set(outcome.operation.key for outcome in outcomes if outcome.applied)
        handled = sorted(set(self.numbers) | touched)
        routes_after = book.after(outcomes)
        after = [rendered(routes_after.get(number) or disconnected(number)) for number in handled]
        before = [book.route(number) or disconnected(number) for number in handled]
        values = {'routes': after}
        if not book.known:
            values['routes_unknown'] = True
        if self.params['phone_number']:
            values['route'] = next(route for route in after if route['phone_number'] == self.numbers[0])
        return TaskReport(values, {'routes': before}, {'routes': after})
