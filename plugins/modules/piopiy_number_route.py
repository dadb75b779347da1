#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_number_route
short_description: Route Piopiy phone numbers to AI agents
version_added: 0.1.0
description:
  - Maps purchased phone numbers of a Piopiy workspace to an AI agent, or removes their routes, as desired state.
  - One number or many in one task. Whatever the number of numbers, the task reads the routes list once, and the
    purchased numbers only for the listed numbers that do not route to the agent yet (the API routes only purchased
    numbers, and no write is made for a number already in place), up to the page where the last of them is found. Then
    it makes only the writes that are needed.
  - Every number is checked before the first write; a task with any bad number fails, names every bad number,
    and changes nothing.
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  phone_number:
    description:
      - One phone number in E.164 form, V(+) and 8 to 15 digits.
      - Spaces, dashes, dots and brackets are removed first, so V(+1 (949\) 980-0001) is accepted.
      - Exactly one of O(phone_number) and O(phone_numbers) is required.
    type: str
  phone_numbers:
    description:
      - Several phone numbers, each as in O(phone_number).
    type: list
    elements: str
  agent_id:
    description:
      - The id of the agent the numbers route to.
      - One of O(agent_id) and O(agent_name) is required with O(state=present).
    type: str
  agent_name:
    description:
      - The exact name of the agent the numbers route to, looked up as M(piopiy.voice.piopiy_agent) does.
      - An ambiguous or unknown name fails, except in check mode, where an agent that an earlier task
        would have created is expected to be missing; the routes that would be made to it are reported.
    type: str
  route_type:
    description:
      - The kind of route. Piopiy routes numbers to AI agents only.
    type: str
    choices: [ai_agent]
    default: ai_agent
  state:
    description:
      - V(present) routes every listed number to the agent; numbers already routed to it are left alone, and
        a number routed to another agent is moved.
      - V(absent) removes the route of every listed number. With an agent, only routes that point to that
        agent are removed.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), also remove the routes of numbers that point to the agent but are not listed,
        so that the list is the agent's complete set of numbers.
    type: bool
    default: false
  parallel_requests:
    description:
      - How many writes are sent at once, from 1 to 64. V(1) sends them strictly one after another.
      - Connections are kept alive, and a rate limit answered to one write pauses them all.
    type: int
    default: 8
seealso:
  - module: piopiy.voice.piopiy_agent
    description: An agent, and with O(piopiy.voice.piopiy_agent#module:phone_numbers) its complete set of numbers, in one task.
  - module: piopiy.voice.piopiy_number_route_info
    description: The routes and purchased numbers of the workspace.
extends_documentation_fragment:
  - piopiy.voice.piopiy
  - piopiy.voice.piopiy.guard_rails
  - piopiy.voice.piopiy.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: all
"""

EXAMPLES = r"""
- name: Route the prod support numbers to the prod agent, and only those
  piopiy.voice.piopiy_number_route:
    api_key: "{{ vault_piopiy_api_key }}"
    agent_name: prod-support-agent
    phone_numbers:
      - "+19499800001"
      - "+1 (949) 980-0002"
    exclusive: true

- name: Route one number to an agent by id
  piopiy.voice.piopiy_number_route:
    phone_number: "+919876543210"
    agent_id: agent_9x2d41c7

- name: Remove a number's route, whatever agent it points to
  piopiy.voice.piopiy_number_route:
    phone_number: "+19499800003"
    state: absent
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
      number is then unknown, every listed number is mapped with the published POST and reported as changed, and a
      before state shows C(current route unknown).
  returned: when the routes could not be read
  type: bool
  sample: true
  version_added: 0.2.0
unknown:
  description:
    - In check mode, on an API that cannot list routes, the maps the task would send whose effect cannot be known (the
      number may already route to the agent), as items of RV(operations) with C(before.status=current route unknown).
      They are not in RV(operations) and do not make the task changed; a real run sends them and reports them as changed.
  returned: in check mode, when the routes could not be read
  type: list
  elements: dict
  version_added: 0.2.0
routes:
  description:
    - The route of every number the task handled, after the task (in check mode, as it would be), sorted by number.
    - A number without a route has C(status=disconnected) and null C(agent_id).
  returned: always
  type: list
  elements: dict
  contains:
    phone_number:
      description: The number, in E.164 form.
      type: str
      sample: "+19499800001"
    route_type:
      description: The kind of route, C(ai_agent), or null without a route.
      type: str
      sample: ai_agent
    agent_id:
      description: The agent the number routes to; null without a route, V((new agent\)) in check mode for an agent not created yet.
      type: str
      sample: agent_9x2d41c7
    status:
      description: C(connected) or C(disconnected).
      type: str
      sample: connected
route:
  description: The one route, as in RV(routes).
  returned: when O(phone_number) is given
  type: dict
operations:
  description: What the task did, or in check mode would do; one item per write. The audit trail is built from it.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: The operation.
      type: str
      choices: [map, unmap]
    resource:
      description: The kind of resource, always C(route).
      type: str
    phone_number:
      description: The number.
      type: str
    agent_id:
      description: The agent the number routes to after a map, or routed to before an unmap.
      type: str
    before:
      description: The route before the operation, null when there was none.
      type: dict
    after:
      description: The route after the operation, null after an unmap.
      type: dict
msg:
  description: What failed and how to fix it. After a write that did not go through, which changes were applied and which not.
  returned: on failure
  type: str
problems:
  description:
    - Every problem that stopped the task before its first write, one message each; RV(msg) joins them.
    - Each names the option, every bad value and the fix.
  returned: on failure, before any write
  type: list
  elements: str
  sample: ["phone_numbers has 1 malformed phone number(s): '12345'. Use E.164, a + and 8 to 15 digits not starting with 0, such as +19499800001"]
numbers:
  description: The numbers a failure is about, such as those not purchased in the workspace.
  returned: on failure, when numbers are the cause
  type: list
  elements: str
  sample: ["+15550000000"]
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

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import ROUTE_TYPE
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import GUARD_RAILS_SPEC, PARALLEL_REQUESTS_SPEC, run_module
from ansible_collections.piopiy.voice.plugins.module_utils.task_route import RouteTask

# The options beyond the connection's (doc fragment piopiy.voice.piopiy), as DOCUMENTATION describes them.
ARGUMENT_SPEC = dict(
    phone_number=dict(type='str'),
    phone_numbers=dict(type='list', elements='str'),
    agent_id=dict(type='str'),
    agent_name=dict(type='str'),
    route_type=dict(type='str', choices=[ROUTE_TYPE], default=ROUTE_TYPE),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    exclusive=dict(type='bool', default=False),
    parallel_requests=PARALLEL_REQUESTS_SPEC,
    **GUARD_RAILS_SPEC
)


def main():
    run_module(ARGUMENT_SPEC, RouteTask,
               mutually_exclusive=[('phone_number', 'phone_numbers'), ('agent_id', 'agent_name')],
               required_one_of=[('phone_number', 'phone_numbers')],
               required_if=[('state', 'present', ('agent_id', 'agent_name'), True)])


if __name__ == '__main__':
    main()
