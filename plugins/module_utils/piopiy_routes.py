# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The routes of a set of phone numbers, as desired state.

Shared by piopiy_number_route and piopiy_agent's phone_numbers: read the
routes and the purchased numbers once, check every number before the first
write, plan only the writes the desired state needs, send them over a bounded
pool, and account for each outcome. Sending is left to the caller's one write
door, so that check mode is decided in one place per module.
"""

from __future__ import annotations

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import ROUTE_TYPE, PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_module import normalize_route, run_parallel


def disconnected(phone_number):
    return {'phone_number': phone_number, 'route_type': None, 'agent_id': None, 'status': 'disconnected'}


def connected(phone_number, agent_id):
    return {'phone_number': phone_number, 'route_type': ROUTE_TYPE, 'agent_id': agent_id, 'status': 'connected'}


class NumberRoutes:
    """Desired routes for `numbers` (already in E.164): one walk of each list, then only the differences.

    A change is (op, phone_number, before, after) with op `map` or `unmap`.
    `agent_id` None in a plan means an agent that check mode expects an
    earlier write to create.
    """

    def __init__(self, module, client, numbers, workers):
        self.module = module
        self.client = client
        self.numbers = numbers
        self.workers = workers
        self.current = {}

    def read_routes(self):
        self.current = dict((route['phone_number'], normalize_route(route)) for route in self.client.list_routes())
        return self.current

    def check_purchased(self):
        """Fail, naming every one, when a number is not purchased in the workspace; call before the first write."""
        purchased = set(number.get('number') for number in self.client.list_purchased_numbers())
        missing = [number for number in self.numbers if number not in purchased]
        if missing:
            self.module.fail_json(msg='%d number(s) are not purchased in this workspace: %s. Nothing was changed: buy them, '
                                      'or remove them from the task' % (len(missing), ', '.join(missing)), numbers=missing)

    def routed_to(self, agent_id, routes=None):
        """The numbers routed to the agent, sorted."""
        routes = self.current if routes is None else routes
        return sorted(number for number, route in routes.items() if route and route['agent_id'] == agent_id)

    def plan_present(self, agent_id, exclusive):
        """Route every number to the agent; with exclusive, also unmap the agent's numbers not listed."""
        changes = [('map', number, self.current.get(number), connected(number, agent_id)) for number in self.numbers
                   if agent_id is None or self.current.get(number, {}).get('agent_id') != agent_id]
        if exclusive and agent_id is not None:
            listed = set(self.numbers)
            changes += [('unmap', number, self.current[number], None) for number in self.routed_to(agent_id) if number not in listed]
        return changes

    def plan_absent(self, agent_id=None):
        """Unmap every number that has a route; given an agent, only the routes that point to it."""
        return [('unmap', number, self.current[number], None) for number in self.numbers
                if number in self.current and agent_id in (None, self.current[number]['agent_id'])]

    @staticmethod
    def planned(changes):
        """The outcomes check mode reports: each change's planned route."""
        return [after for unused_op, unused_number, unused_before, after in changes]

    def send(self, changes):
        """Send the changes, `workers` at a time. Per change: the route after it (None after an unmap) or the error."""
        return run_parallel(self.apply, changes, self.workers)

    def apply(self, change):
        op, number, unused_before, after = change
        if op == 'map':
            # A 2xx answer is the route; fields the answer leaves out are those that were sent.
            answer = normalize_route(self.client.set_route(number, after['agent_id'])) or {}
            return dict(after, **dict((key, value) for key, value in answer.items() if value is not None))
        self.client.delete_route(number)
        return None

    def settle(self, changes, outcomes):
        """(operations, errors, routes after) from the outcome of each change; in check mode the outcomes are the plans."""
        operations, errors, after = [], [], dict(self.current)
        for (op, number, before, unused_planned), outcome in zip(changes, outcomes):
            if isinstance(outcome, PiopiyAPIError):
                errors.append('%s %s: %s' % (op, number, outcome))
                continue
            operations.append({'op': op, 'resource': 'route', 'phone_number': number,
                               'agent_id': (outcome or before)['agent_id'], 'before': before, 'after': outcome})
            after[number] = outcome
        return operations, errors, after
