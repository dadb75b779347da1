# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The runs of the info modules, which only read: piopiy_agent_info (agents, by name or id) and piopiy_number_route_info
(routes and purchased numbers), with their options.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import (
    agents_named,
    complete,
    find_by_id,
    find_by_name,
    normalize_agent,
)
from ansible_collections.piopiy.voice.plugins.module_utils.client_api import GET_AGENT
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Plan
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import (
    PiopiyTask,
    TaskReport,
    empty_id_problems,
    empty_name_problems,
    parallel_requests_problem,
    warn_routes_unknown,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import RouteBook, parse_phone_numbers


class AgentInfoTask(PiopiyTask):
    """The agents matching name or id (all of them when neither is given)."""

    read_only = True

    def validate(self):
        return (empty_id_problems(self.params, 'id') + empty_name_problems(self.params, 'name')
                + [parallel_requests_problem(self.params['parallel_requests'])])

    def read(self, client, round_number):
        params = self.params
        agents = find_agents(client, params['name'], params['id'], params['with_language'], params['parallel_requests'])
        unknown = sorted(agent['name'] for agent in agents if agent.get('language') is None)
        missing = client.capabilities.lacks(GET_AGENT)
        if params['with_language'] and unknown and missing:
            self.module.warn('the language of %d agent(s) is unknown (%s): the API\'s list leaves it out, and %s is not available (%s)'
                             % (len(unknown), ', '.join(unknown), GET_AGENT, missing.reason))
        return agents

    def result(self, loop):
        return TaskReport({'agents': loop.first.state})


def find_agents(client, name=None, agent_id=None, with_language=False, workers=1):
    """The agents with that id, or that name, or all of them; with_language reads the language of those listed without it."""
    if agent_id:
        agent = find_by_id(client, agent_id).agent
        return [agent] if agent else []
    listed = client.list_agents()
    if name is None and not with_language:
        return [normalize_agent(agent) for agent in listed]
    # A name matches few agents, and with_language asks for all: complete each one's language (None when deleted in between).
    wanted = listed if name is None else agents_named(listed, name)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted)))) as pool:
        return [agent for agent in pool.map(lambda item: complete(client, item), wanted) if agent]


@dataclass
class RoutesRead:
    """What the route info task read: the routes and purchased numbers matching its filters, or why the agent is not known."""

    routes: list
    phone_numbers: list
    problem: str = None
    routes_unknown: bool = False  # the API cannot list routes: routes is empty, and no number's agent is known


class RouteInfoTask(PiopiyTask):
    """The routes and purchased numbers matching the filters."""

    read_only = True

    def __init__(self, module):
        super().__init__(module)
        self.number, self.number_problems = None, []
        if self.params['phone_number'] is not None:
            numbers, self.number_problems = parse_phone_numbers('phone_number', [self.params['phone_number']])
            self.number = numbers[0] if numbers else None

    def validate(self):
        return empty_id_problems(self.params, 'agent_id') + empty_name_problems(self.params, 'agent_name') + self.number_problems

    def read(self, client, round_number):
        """The routes and purchased numbers matching the filters; an ambiguous agent_name is the read's problem."""
        params = self.params
        agent_id, name = params['agent_id'], params['agent_name']
        everything = agent_id is None and name is None
        if name is not None:
            lookup = find_by_name(client, name, 'agent_id', with_language=False)
            if lookup.problem:
                return RoutesRead([], [], lookup.problem)
            agent_id = lookup.agent['id'] if lookup.agent else None
        book = RouteBook.read(client)
        warn_routes_unknown(self.module, client, book)
        routes = [book.routes[key] for key in sorted(book.routes)
                  if (everything or book.routes[key]['agent_id'] == agent_id) and self.number in (None, key)]
        return RoutesRead(routes, purchased_numbers(client, self.number, book), routes_unknown=not book.known)

    def plan(self, client, state, round_number):
        return Plan(problems=[state.problem] if state.problem else [])

    def result(self, loop):
        state = loop.first.state
        values = {'routes': state.routes, 'phone_numbers': state.phone_numbers}
        if state.routes_unknown:
            values['routes_unknown'] = True
        return TaskReport(values)


def purchased_numbers(client, only, book):
    numbers = [{'phone_number': item.get('number'), 'id': item.get('id'), 'status': item.get('status'),
                'agent_id': book.agent_of(item.get('number'))}
               for item in client.list_purchased_numbers() if only is None or item.get('number') == only]
    return sorted(numbers, key=lambda number: number['phone_number'])
