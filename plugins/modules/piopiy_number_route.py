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
  - One number or many in one task. Whatever the number of numbers, the task reads the routes list and the
    purchased numbers once, then makes only the writes that are needed.
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
      description: The agent the number routes to; null without a route, or in check mode for an agent not created yet.
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
"""

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import ROUTE_TYPE, PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_module import (
    agent_by_name,
    fail_api,
    normalize_phone_numbers,
    piopiy_client,
    piopiy_module,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_routes import NumberRoutes, disconnected


class RouteTask:
    """The task: find the agent, read and check every number, then write only the differences."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        field = 'phone_numbers' if self.params['phone_numbers'] is not None else 'phone_number'
        numbers = self.params['phone_numbers'] if field == 'phone_numbers' else [self.params['phone_number']]
        self.client = piopiy_client(module, pool_size=self.params['parallel_requests'])
        self.routes = NumberRoutes(module, self.client, normalize_phone_numbers(module, field, numbers), self.params['parallel_requests'])

    def resolve_agent_id(self, current):
        """The target agent's id, or None: no agent given, or an agent that does not exist.

        A missing agent fails a present state, except in check mode, where an
        earlier task would have created it. For absent it means nothing routes to it.
        """
        agent_id, name = self.params['agent_id'], self.params['agent_name']
        if agent_id and any(route['agent_id'] == agent_id for route in current.values()):
            return agent_id  # a route points to it, so it exists: no need to read it
        if agent_id:
            agent = self.client.get_agent(agent_id)
        elif name is not None:
            agent = agent_by_name(self.module, self.client, name)
        else:
            return None
        if agent is None and self.params['state'] == 'present' and not (self.module.check_mode and name):
            what = 'with id %s' % agent_id if agent_id else 'named %r' % name
            self.module.fail_json(msg='no agent %s in this workspace: create it first with piopiy.voice.piopiy_agent, '
                                      'or check %s' % (what, 'agent_id' if agent_id else 'agent_name'))
        return agent['id'] if agent else None

    def plan(self, agent_id):
        if self.params['state'] == 'present':
            return self.routes.plan_present(agent_id, self.params['exclusive'])
        if self.has_agent() and agent_id is None:
            return []  # the agent does not exist, so no route points to it
        return self.routes.plan_absent(agent_id)

    def has_agent(self):
        return bool(self.params['agent_id'] or self.params['agent_name'])

    def write_all(self, changes):
        """The module's one door to the API for changes; in check mode nothing is sent and the plans stand for the outcomes."""
        if self.module.check_mode:
            return self.routes.planned(changes)
        return self.routes.send(changes)

    def run(self):
        try:
            current = self.routes.read_routes()
            agent_id = self.resolve_agent_id(current)
            self.routes.check_purchased()
            changes = self.plan(agent_id)
            outcomes = self.write_all(changes)
        except PiopiyAPIError as error:
            fail_api(self.module, error)
        self.finish(current, changes, outcomes)

    def finish(self, current, changes, outcomes):
        operations, errors, after = self.routes.settle(changes, outcomes)
        handled = sorted(set(self.routes.numbers) | set(operation['phone_number'] for operation in operations))
        routes_after = [after.get(number) or disconnected(number) for number in handled]
        result = {'changed': bool(operations), 'routes': routes_after, 'operations': operations}
        if self.module._diff:
            routes_before = [current.get(number) or disconnected(number) for number in handled]
            result['diff'] = {'before': {'routes': routes_before}, 'after': {'routes': routes_after}}
        if self.params['phone_number']:
            result['route'] = next(route for route in routes_after if route['phone_number'] == self.routes.numbers[0])
        if errors:
            self.module.fail_json(msg='%d of %d route change(s) failed: %s' % (len(errors), len(changes), '; '.join(errors)), **result)
        self.module.exit_json(**result)


def main():
    module = piopiy_module(
        dict(
            phone_number=dict(type='str'),
            phone_numbers=dict(type='list', elements='str'),
            agent_id=dict(type='str'),
            agent_name=dict(type='str'),
            route_type=dict(type='str', choices=[ROUTE_TYPE], default=ROUTE_TYPE),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            exclusive=dict(type='bool', default=False),
            parallel_requests=dict(type='int', default=8),
        ),
        mutually_exclusive=[('phone_number', 'phone_numbers'), ('agent_id', 'agent_name')],
        required_one_of=[('phone_number', 'phone_numbers')],
        required_if=[('state', 'present', ('agent_id', 'agent_name'), True)],
    )
    RouteTask(module).run()


if __name__ == '__main__':
    main()
