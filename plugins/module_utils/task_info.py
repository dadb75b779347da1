# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The runs of the info modules, which only read: piopiy_agent_info (agents, by name or id) and piopiy_number_route_info
(routes and purchased numbers), with their options.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import (
    agents_named,
    complete,
    find_by_id,
    find_by_name,
    normalize_agent,
)
from ansible_collections.piopiy.voice.plugins.module_utils.client_api import GET_AGENT, PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import problems_message
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import (
    PARALLEL_REQUESTS_SPEC,
    empty_id_problems,
    capability_report,
    fail_api,
    parallel_requests_problem,
    piopiy_client,
    warn_routes_unknown,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import RouteBook, parse_phone_numbers


def agent_info_argument_spec():
    """The options of piopiy_agent_info beyond the connection's."""
    return dict(name=dict(type='str'), id=dict(type='str'), with_language=dict(type='bool', default=False),
                parallel_requests=PARALLEL_REQUESTS_SPEC)


AGENT_INFO_OPTION_RULES = dict(mutually_exclusive=[('name', 'id')])


def run_agent_info(module):
    """The agents matching name or id (all of them when neither is given); it ends with module.exit_json or module.fail_json."""
    params = module.params
    problems = [problem for problem in empty_id_problems(params, 'id') + [parallel_requests_problem(params['parallel_requests'])]
                if problem]
    if problems:
        module.fail_json(msg=problems_message(problems), problems=problems)
    try:
        client = piopiy_client(module, pool_size=params['parallel_requests'])
        agents = find_agents(client, params['name'], params['id'], params['with_language'], params['parallel_requests'])
    except PiopiyAPIError as error:
        fail_api(module, error)
    unknown = sorted(agent['name'] for agent in agents if agent.get('language') is None)
    if params['with_language'] and unknown and client.capabilities.lacks(GET_AGENT):
        module.warn('the language of %d agent(s) is unknown (%s): the API\'s list leaves it out, and %s is not available (%s)'
                    % (len(unknown), ', '.join(unknown), GET_AGENT, client.capabilities.lacks(GET_AGENT).reason))
    module.exit_json(changed=False, agents=agents, **capability_report(module, client))


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


def route_info_argument_spec():
    """The options of piopiy_number_route_info beyond the connection's."""
    return dict(agent_id=dict(type='str'), agent_name=dict(type='str'), phone_number=dict(type='str'))


ROUTE_INFO_OPTION_RULES = dict(mutually_exclusive=[('agent_id', 'agent_name')])


def run_route_info(module):
    """The routes and purchased numbers matching the filters; it ends with module.exit_json or module.fail_json."""
    number = None
    problems = empty_id_problems(module.params, 'agent_id')
    if module.params['phone_number'] is not None:
        numbers, number_problems = parse_phone_numbers('phone_number', [module.params['phone_number']])
        problems += number_problems
        number = numbers[0] if numbers else None
    if problems:
        module.fail_json(msg=problems_message(problems), problems=problems)
    try:
        client = piopiy_client(module)
        book, routes, numbers = read_routes(module, client, number)
    except PiopiyAPIError as error:
        fail_api(module, error)
    result = dict(changed=False, routes=routes, phone_numbers=numbers)
    if not book.known:
        warn_routes_unknown(module, client, book)
        result['routes_unknown'] = True  # routes is then empty, and no number's agent_id is known
    result.update(capability_report(module, client))
    module.exit_json(**result)


def read_routes(module, client, number):
    """(the route book, routes, purchased numbers) matching the filters; fails when agent_name is ambiguous."""
    params = module.params
    agent_id, name = params['agent_id'], params['agent_name']
    everything = agent_id is None and name is None
    if name is not None:
        lookup = find_by_name(client, name, 'agent_id', with_language=False)
        if lookup.problem:
            module.fail_json(msg=lookup.problem)
    book = RouteBook.read(client, with_purchased=False)
    if name is not None:
        agent_id = lookup.agent['id'] if lookup.agent else None
    routes = [book.routes[key] for key in sorted(book.routes)
              if (everything or book.routes[key]['agent_id'] == agent_id) and number in (None, key)]
    return book, routes, purchased_numbers(client, number, book)


def purchased_numbers(client, only, book):
    numbers = [{'phone_number': item.get('number'), 'id': item.get('id'), 'status': item.get('status'),
                'agent_id': book.agent_of(item.get('number'))}
               for item in client.list_purchased_numbers() if only is None or item.get('number') == only]
    return sorted(numbers, key=lambda number: number['phone_number'])
