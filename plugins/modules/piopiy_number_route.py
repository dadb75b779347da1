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
      - How many writes are sent at once. V(1) sends them strictly one after another.
      - Connections are kept alive, and a rate limit answered to one write pauses them all.
    type: int
    default: 8
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
    normalize_route,
    piopiy_client,
    piopiy_module,
    run_parallel,
)


def disconnected(phone_number):
    return {'phone_number': phone_number, 'route_type': None, 'agent_id': None, 'status': 'disconnected'}


def connected(phone_number, agent_id):
    return {'phone_number': phone_number, 'route_type': ROUTE_TYPE, 'agent_id': agent_id, 'status': 'connected'}


class NumberRoutes:
    """Desired routes for a set of numbers: read everything once, plan, validate, then write only the differences."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = piopiy_client(module, pool_size=self.params['parallel_requests'])
        if self.params['phone_numbers'] is not None:
            self.numbers = normalize_phone_numbers(module, 'phone_numbers', self.params['phone_numbers'])
        else:
            self.numbers = normalize_phone_numbers(module, 'phone_number', [self.params['phone_number']])

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

    def check_purchased(self):
        purchased = set(number.get('number') for number in self.client.list_purchased_numbers())
        missing = [number for number in self.numbers if number not in purchased]
        if missing:
            self.module.fail_json(msg='%d number(s) are not purchased in this workspace: %s. Nothing was changed: buy them, '
                                      'or remove them from the task' % (len(missing), ', '.join(missing)), numbers=missing)

    def plan(self, agent_id, current):
        """(op, phone_number, before, after) for every write the desired state needs."""
        if self.params['state'] == 'absent':
            if self.has_agent() and agent_id is None:
                return []  # the agent does not exist, so no route points to it
            return [('unmap', number, current[number], None) for number in self.numbers
                    if number in current and agent_id in (None, current[number]['agent_id'])]
        changes = [('map', number, current.get(number), connected(number, agent_id)) for number in self.numbers
                   if agent_id is None or current.get(number, {}).get('agent_id') != agent_id]
        if self.params['exclusive'] and agent_id is not None:
            listed = set(self.numbers)
            changes += [('unmap', number, route, None) for number, route in sorted(current.items())
                        if route['agent_id'] == agent_id and number not in listed]
        return changes

    def has_agent(self):
        return bool(self.params['agent_id'] or self.params['agent_name'])

    def write_all(self, changes):
        """The module's one door to the API for changes; in check mode nothing is sent.

        Returns, per change, the route after it (None after an unmap) or the
        PiopiyAPIError that stopped it; in check mode, the planned route.
        """
        if self.module.check_mode:
            return [planned for unused_op, unused_number, unused_before, planned in changes]
        return run_parallel(self.apply, changes, self.params['parallel_requests'])

    def apply(self, change):
        op, number, unused_before, after = change
        if op == 'map':
            return normalize_route(self.client.set_route(number, after['agent_id']))
        self.client.delete_route(number)
        return None

    def run(self):
        try:
            current = dict((route['phone_number'], normalize_route(route)) for route in self.client.list_routes())
            agent_id = self.resolve_agent_id(current)
            self.check_purchased()
            changes = self.plan(agent_id, current)
            outcomes = self.write_all(changes)
        except PiopiyAPIError as error:
            fail_api(self.module, error)
        self.finish(current, changes, outcomes)

    def finish(self, current, changes, outcomes):
        operations, errors, after = [], [], dict(current)
        for (op, number, before, unused_planned), outcome in zip(changes, outcomes):
            if isinstance(outcome, PiopiyAPIError):
                errors.append('%s %s: %s' % (op, number, outcome))
                continue
            operations.append({'op': op, 'resource': 'route', 'phone_number': number,
                               'agent_id': (outcome or before)['agent_id'], 'before': before, 'after': outcome})
            after[number] = outcome
        handled = sorted(set(self.numbers) | set(operation['phone_number'] for operation in operations))
        routes_after = [after.get(number) or disconnected(number) for number in handled]
        result = {'changed': bool(operations), 'routes': routes_after, 'operations': operations}
        if self.module._diff:
            routes_before = [current.get(number) or disconnected(number) for number in handled]
            result['diff'] = {'before': {'routes': routes_before}, 'after': {'routes': routes_after}}
        if self.params['phone_number']:
            result['route'] = next(route for route in routes_after if route['phone_number'] == self.numbers[0])
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
    if not 1 <= module.params['parallel_requests'] <= 64:
        module.fail_json(msg='parallel_requests must be between 1 and 64, got %d' % module.params['parallel_requests'])
    NumberRoutes(module).run()


if __name__ == '__main__':
    main()
