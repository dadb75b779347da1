#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_number_route_info
short_description: List Piopiy phone number routes and purchased numbers
version_added: 0.1.0
description:
  - Lists the routes of a Piopiy workspace's phone numbers to AI agents, and its purchased numbers with the agent
    each one routes to. Never changes anything.
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  agent_id:
    description:
      - Only the routes to the agent with this id.
    type: str
  agent_name:
    description:
      - Only the routes to the agent with exactly this name. An ambiguous name fails; an unknown one matches nothing.
    type: str
  phone_number:
    description:
      - Only this number, in E.164 form (spaces, dashes, dots and brackets are removed first).
    type: str
seealso:
  - module: piopiy.voice.piopiy_number_route
    description: Route numbers to an agent, or remove routes, without touching the agent.
extends_documentation_fragment:
  - piopiy.voice.piopiy
  - piopiy.voice.piopiy.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: N/A
  platform:
    platforms: all
"""

EXAMPLES = r"""
- name: Read every route and purchased number
  piopiy.voice.piopiy_number_route_info:
    api_key: "{{ vault_piopiy_api_key }}"
  register: piopiy

- name: Show the numbers that route nowhere
  ansible.builtin.debug:
    msg: "{{ piopiy.phone_numbers | selectattr('agent_id', 'none') | map(attribute='phone_number') | list }}"

- name: Read the numbers of one agent
  piopiy.voice.piopiy_number_route_info:
    agent_name: prod-support-agent
  register: prod_routes
"""

RETURN = r"""
routes:
  description: The routes, all or those matching the filters, sorted by number.
  returned: always
  type: list
  elements: dict
  contains:
    phone_number:
      description: The number.
      type: str
      sample: "+19499800001"
    route_type:
      description: The kind of route.
      type: str
      sample: ai_agent
    agent_id:
      description: The agent the number routes to.
      type: str
      sample: agent_9x2d41c7
    status:
      description: The route's status.
      type: str
      sample: connected
phone_numbers:
  description: The workspace's purchased numbers (only O(phone_number) when given), sorted, each with its route's agent.
  returned: always
  type: list
  elements: dict
  contains:
    phone_number:
      description: The number.
      type: str
      sample: "+19499800001"
    id:
      description: Piopiy's id of the purchased number.
      type: str
      sample: num_8h3k1
    status:
      description: The number's status.
      type: str
      sample: active
    agent_id:
      description: The agent the number routes to, or null.
      type: str
      sample: agent_9x2d41c7
"""

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_module import (
    agent_by_name,
    fail_api,
    normalize_phone_numbers,
    normalize_route,
    piopiy_client,
    piopiy_module,
)


def read_routes(module, client):
    params = module.params
    number = normalize_phone_numbers(module, 'phone_number', [params['phone_number']])[0] if params['phone_number'] else None
    agent_id = params['agent_id']
    if params['agent_name'] is not None:
        agent = agent_by_name(module, client, params['agent_name'])
        # An unknown name matches no route; no real agent id is empty.
        agent_id = agent['id'] if agent else ''
    every_route = sorted((normalize_route(route) for route in client.list_routes()), key=lambda route: route['phone_number'])
    routes = [route for route in every_route
              if agent_id in (None, route['agent_id']) and number in (None, route['phone_number'])]
    return routes, purchased_numbers(client, number, dict((route['phone_number'], route['agent_id']) for route in every_route))


def purchased_numbers(client, only, agent_of):
    numbers = [{'phone_number': item.get('number'), 'id': item.get('id'), 'status': item.get('status'),
                'agent_id': agent_of.get(item.get('number'))}
               for item in client.list_purchased_numbers() if only is None or item.get('number') == only]
    return sorted(numbers, key=lambda number: number['phone_number'])


def main():
    module = piopiy_module(
        dict(agent_id=dict(type='str'), agent_name=dict(type='str'), phone_number=dict(type='str')),
        mutually_exclusive=[('agent_id', 'agent_name')],
    )
    try:
        routes, numbers = read_routes(module, piopiy_client(module))
    except PiopiyAPIError as error:
        fail_api(module, error)
    module.exit_json(changed=False, routes=routes, phone_numbers=numbers)


if __name__ == '__main__':
    main()
