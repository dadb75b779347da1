# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The unmanaged_objects filter: the agents, routes and purchased numbers that no environment of an inventory manages."""

from __future__ import annotations

import re

# What people write between the digits of a number in an inventory, as the modules accept it.
NUMBER_SEPARATORS = re.compile(r'[\s().-]')


def unmanaged_objects(views):
    """What no environment manages, from each environment's view of its workspace.

    views: one item per environment, {'environment', 'agent_name' (the agent it manages), 'agents', 'routes'},
    where agents and routes are what piopiy_agent_info and piopiy_number_route_info returned with that
    environment's connection. Environments sharing a workspace see the same objects; ids tell them apart,
    so no key is ever compared. Returns {'agents': [...], 'routes': [...], 'lines': [...], 'numbers': [...]},
    sorted, without duplicates; lines say the same for a person.
    A view may also hold 'purchased' (piopiy_number_route_info's phone_numbers) and 'listed' (the numbers the
    environment lists): numbers then holds the purchased numbers that no environment lists, money spent on
    numbers nobody uses, each with the agent it routes to (None without a route).
    """
    managed_ids = set()
    for view in views:
        managed_ids.update(agent['id'] for agent in view['agents'] if agent.get('name') == view['agent_name'])
    agents, routes = {}, {}
    for view in views:
        names = dict((agent['id'], agent.get('name')) for agent in view['agents'])
        for agent in view['agents']:
            if agent['id'] not in managed_ids:
                agents[agent['id']] = {'id': agent['id'], 'name': agent.get('name'), 'status': agent.get('status')}
        for route in view['routes']:
            if route.get('agent_id') and route['agent_id'] not in managed_ids:
                routes[route['phone_number']] = {'phone_number': route['phone_number'], 'agent_id': route['agent_id'],
                                                 'agent_name': names.get(route['agent_id'])}
    agents = sorted(agents.values(), key=lambda agent: (str(agent['name']), agent['id']))
    routes = [routes[number] for number in sorted(routes)]
    lines = ['agent %s (%s)' % (agent['name'], agent['id']) for agent in agents]
    lines.extend('route %s -> %s (%s)' % (route['phone_number'], route['agent_name'], route['agent_id']) for route in routes)
    return {'agents': agents, 'routes': routes, 'lines': lines, 'numbers': unused_numbers(views)}


def unused_numbers(views):
    """The purchased numbers of the views that no view lists, sorted, each once: {'phone_number', 'agent_id'}."""
    listed = set(NUMBER_SEPARATORS.sub('', str(number)) for view in views for number in view.get('listed') or [])
    unused = {}
    for view in views:
        for number in view.get('purchased') or []:
            if number.get('phone_number') and number['phone_number'] not in listed:
                unused[number['phone_number']] = {'phone_number': number['phone_number'], 'agent_id': number.get('agent_id')}
    return [unused[number] for number in sorted(unused)]


class FilterModule:
    def filters(self):
        return {'unmanaged_objects': unmanaged_objects}
