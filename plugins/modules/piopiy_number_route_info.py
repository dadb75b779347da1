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
missing_calls:
  description:
    - The unpublished calls this API is known not to have (see O(api_profile)), such as V(PATCH /ai-agents/{id}).
  returned: when there are some
  type: list
  elements: str
  sample: ["GET /phone-number-routing"]
  version_added: 0.2.0
routes_unknown:
  description:
    - True when the API cannot list routes (Piopiy does not publish C(GET /phone-number-routing)); the current route of a
      number is then unknown, RV(routes) is empty and no number's C(agent_id) is known.
  returned: when the routes could not be read
  type: bool
  sample: true
  version_added: 0.2.0
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
status:
  description: The HTTP status of the API answer that failed the task; null when no answer came (a lost connection).
  returned: on failure from an API call
  type: int
  sample: 409
error_code:
  description: The API's error code of that answer, such as C(not_found), C(conflict) or C(rate_limited).
  returned: on failure from an API call
  type: str
  sample: conflict
request_id:
  description: The API's id of that request (its C(X-Request-Id) header), to quote to Piopiy support.
  returned: on failure from an API call
  type: str
  sample: req_5f2c9a1b7d3e4f60
"""

from ansible_collections.piopiy.voice.plugins.module_utils.task_info import RouteInfoTask
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import run_module

# The options beyond the connection's (doc fragment piopiy.voice.piopiy), as DOCUMENTATION describes them.
ARGUMENT_SPEC = dict(
    agent_id=dict(type='str'),
    agent_name=dict(type='str'),
    phone_number=dict(type='str'),
)


def main():
    run_module(ARGUMENT_SPEC, RouteInfoTask, mutually_exclusive=[('agent_id', 'agent_name')])


if __name__ == '__main__':
    main()
