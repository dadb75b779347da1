#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_agent
short_description: Manage Piopiy Voice AI agents
version_added: 0.1.0
description:
  - Create, rename, change the language of, and delete an AI agent in a Piopiy workspace, as desired state.
  - With O(phone_numbers), also route the agent's numbers, in the same task.
  - An agent is identified by its exact O(name). Piopiy allows several agents with one name;
    this module refuses to guess and fails when a name is ambiguous, listing the ids.
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  name:
    description:
      - The agent's name, its identity in the workspace.
      - A name that says the environment and the use case, such as C(prod-support-agent), is recommended.
      - With O(id), the desired name of the agent found by id (a rename).
      - Required to create an agent.
    type: str
  id:
    description:
      - The id of an existing agent. When given, the agent is found by id and never created.
    type: str
  language:
    description:
      - The agent's language, a BCP 47 tag such as C(en-US), C(en-IN), C(hi-IN) or C(ta-IN).
      - When omitted, a new agent gets C(en-US) and an existing agent keeps its language.
    type: str
  state:
    description:
      - V(present) creates the agent or updates it in place; V(absent) deletes it.
      - An agent that still has phone numbers routed to it cannot be deleted; unmap them first
        with M(piopiy.voice.piopiy_number_route), or with O(phone_numbers=[]) in a task before.
    type: str
    choices: [present, absent]
    default: present
  token_file:
    description:
      - Path of a file to receive the agent's token when this run creates the agent.
      - The file is written atomically with mode C(0600), and the token is then not returned.
      - A run that creates nothing never touches the file.
      - The directory must exist, and an existing O(token_file) must be a regular file;
        both are checked before anything is created.
    type: path
  return_token:
    description:
      - Whether to return the token of an agent this run creates as RV(agent_token).
      - Set to V(false) to drop the token when neither the caller nor a file should hold it;
        a new token can be issued in the Piopiy dashboard.
    type: bool
    default: true
  phone_numbers:
    description:
      - The phone numbers routed to the agent, each in E.164 form as in M(piopiy.voice.piopiy_number_route)
        (V(+) and 8 to 15 digits; spaces, dashes, dots and brackets are removed first).
      - Each listed number is routed to the agent, moved from another agent if needed. With
        O(purge_phone_numbers=true), numbers routed to the agent but not listed are unmapped, so the list is the
        agent's complete set of numbers; V([]) unmaps them all.
      - Every number is checked, well formed and purchased, before the first write. A task with any bad number
        fails, names every bad number, and creates nothing.
      - When omitted, the agent's routes are left alone and not read.
      - Only with O(state=present). To unmap the numbers of an agent before deleting it, use
        M(piopiy.voice.piopiy_number_route) with O(piopiy.voice.piopiy_number_route#module:state=absent).
    type: list
    elements: str
  purge_phone_numbers:
    description:
      - With O(phone_numbers), whether numbers routed to the agent but not listed are unmapped.
      - V(false) only adds routes, like M(piopiy.voice.piopiy_number_route) does without O(piopiy.voice.piopiy_number_route#module:exclusive).
    type: bool
    default: true
  parallel_requests:
    description:
      - With O(phone_numbers), how many route writes are sent at once, from 1 to 64. V(1) sends them strictly one after another.
    type: int
    default: 8
seealso:
  - module: piopiy.voice.piopiy_agent_info
    description: List agents, by name or id.
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
    support: full
  platform:
    platforms: all
"""

EXAMPLES = r"""
- name: Set the connection once for every piopiy.voice module
  module_defaults:
    group/piopiy.voice.piopiy:
      api_key: "{{ vault_piopiy_api_key }}"
  block:
    - name: Ensure the prod support agent exists, keeping its token in a 0600 file
      piopiy.voice.piopiy_agent:
        name: prod-support-agent
        language: en-IN
        token_file: /etc/piopiy/prod-support-agent.token

    - name: Ensure the prod support agent and its complete set of numbers, in one task
      piopiy.voice.piopiy_agent:
        name: prod-support-agent
        phone_numbers:
          - "+19499800001"
          - "+1 (949) 980-0002"

    - name: Rename an agent found by id
      piopiy.voice.piopiy_agent:
        id: agent_9x2d41c7
        name: prod-billing-agent

    - name: Create an agent and keep its token in a variable, never in the log
      piopiy.voice.piopiy_agent:
        name: dev-support-agent
      register: dev_agent
      no_log: true

    - name: Delete an agent
      piopiy.voice.piopiy_agent:
        name: staging-support-agent
        state: absent
"""

RETURN = r"""
agent:
  description: The agent after the task; empty after a delete. In check mode, the agent as it would be (C(id) is null for an agent not yet created).
  returned: always
  type: dict
  contains:
    id:
      description: The agent's id.
      type: str
      sample: agent_9x2d41c7
    name:
      description: The agent's name.
      type: str
      sample: prod-support-agent
    language:
      description: The agent's language.
      type: str
      sample: en-US
    status:
      description: The agent's status.
      type: str
      sample: active
    phone_numbers:
      description:
        - The numbers routed to the agent after the task, sorted. In check mode, as they would be.
        - In the diff's before, the numbers routed to it before the task.
      returned: when O(phone_numbers) is given
      type: list
      elements: str
      sample: ["+19499800001", "+19499800002"]
agent_token:
  description:
    - The secret token of the agent this run created. Piopiy shows it once, only when the agent is created.
    - Store it, and set C(no_log) on the task. Not returned when O(token_file) is set.
  returned: when the agent was created, O(token_file) is not set and O(return_token) is true, also when a later route write of the task failed
  type: str
agent_token_file:
  description: The file the new agent's token was written to.
  returned: when the agent was created and O(token_file) is set, also when a later route write of the task failed
  type: str
  sample: /etc/piopiy/prod-support-agent.token
operations:
  description: What the task did, or in check mode would do, in order; one item per write. The audit trail is built from it.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: The operation; C(map) and C(unmap) are route writes made for O(phone_numbers).
      type: str
      choices: [create, update, delete, map, unmap]
    resource:
      description: The kind of resource, C(agent), or C(route) for a route write.
      type: str
    id:
      description: The agent's id (null for an agent that check mode would create). Agent operations only.
      type: str
    name:
      description: The agent's name. Agent operations only.
      type: str
    phone_number:
      description: The number. Route operations only, as in M(piopiy.voice.piopiy_number_route).
      type: str
    agent_id:
      description:
        - The agent the number routes to after a map, or routed to before an unmap. Route operations only.
        - Null in check mode for a map to an agent the task would create.
      type: str
    before:
      description: The resource before the operation, null for a create, or a map of a number without a route.
      type: dict
    after:
      description: The resource after the operation, null for a delete or an unmap.
      type: dict
"""

import re

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_module import (
    PiopiyResource,
    agent_by_name,
    normalize_agent,
    normalize_phone_numbers,
    piopiy_client,
    piopiy_module,
    secret_file_problem,
    write_secret_file,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_routes import NumberRoutes

DEFAULT_LANGUAGE = 'en-US'
BCP47 = re.compile(r'^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$')


class Agent(PiopiyResource):
    kind = 'agent'
    fields = ('name', 'language', 'status')

    def __init__(self, module):
        params = module.params
        super().__init__(module, piopiy_client(module, pool_size=params['parallel_requests']))
        self.numbers = None
        if params['phone_numbers'] is not None:
            numbers = normalize_phone_numbers(module, 'phone_numbers', params['phone_numbers'])
            self.numbers = NumberRoutes(module, self.client, numbers, params['parallel_requests'])

    def lookup(self):
        agent = self.find()
        if self.numbers is not None:
            # Every number is read and checked here, before the agent's own write.
            self.numbers.read_routes()
            self.numbers.check_purchased()
        return agent

    def find(self):
        params = self.module.params
        if params['id']:
            agent = self.client.get_agent(params['id'])
            if agent is None and params['state'] == 'present':
                self.module.fail_json(msg='no agent with id %s in this workspace: an agent is never created from an id; '
                                          'remove id to create one by name' % params['id'])
            return normalize_agent(agent)
        # Read the one agent whose language the list may leave out, never every agent.
        agent = agent_by_name(self.module, self.client, params['name'])
        return normalize_agent(self.client.complete_agent(agent) if agent else None)

    def attach(self, before, after):
        """Route the listed numbers to the agent once it exists; the agent then reports its numbers."""
        if self.numbers is None:
            return before, after
        agent_id = after['id']  # None only in check mode, for an agent it would create
        changes = self.numbers.plan_present(agent_id, self.module.params['purge_phone_numbers'])
        agent_changed = self.changed
        outcomes = self.write(self.numbers.send, changes) if changes else []
        if outcomes is None:  # check mode: the plans stand for the outcomes
            outcomes = self.numbers.planned(changes)
        operations, errors, routes = self.numbers.settle(changes, outcomes)
        self.operations.extend(operations)
        self.changed = agent_changed or bool(operations)  # a refused write changes nothing
        after = dict(after, phone_numbers=self.numbers.routed_to(agent_id, routes) if agent_id else sorted(self.numbers.numbers))
        if errors:
            # The result keeps a new agent's token: Piopiy shows it once.
            self.module.fail_json(msg='the agent is in place, but %d of %d route change(s) failed: %s'
                                      % (len(errors), len(changes), '; '.join(errors)),
                                  changed=self.changed, operations=self.operations, agent=after, **self.extra)
        before = dict(before, phone_numbers=self.numbers.routed_to(before['id'])) if before else None
        return before, after

    def wanted(self):
        return {'name': self.module.params['name'], 'language': self.module.params['language']}

    def identity(self, resource):
        return {'id': resource.get('id'), 'name': resource.get('name')}

    def create(self, wanted):
        answer = self.client.create_agent(wanted['name'], wanted['language'] or DEFAULT_LANGUAGE)
        self.keep_token(answer.get('agent_token'))
        return normalize_agent(answer)

    def planned(self, current, wanted):
        planned = super().planned(current, wanted)
        planned['language'] = planned['language'] or DEFAULT_LANGUAGE
        return planned

    def update(self, current, changes):
        return normalize_agent(self.client.update_agent(current['id'], changes))

    def delete(self, current):
        try:
            self.client.delete_agent(current['id'])
        except PiopiyAPIError as error:
            if error.status != 409:
                raise
            numbers = sorted(route['phone_number'] for route in self.client.list_routes(agent_id=current['id']))
            self.module.fail_json(
                msg='agent %r (%s) still has %d number(s) routed to it: %s. Nothing was deleted: unmap them first, '
                    'with piopiy.voice.piopiy_number_route state=absent or piopiy_agent phone_numbers=[]'
                    % (current['name'], current['id'], len(numbers), ', '.join(numbers)),
                numbers=numbers, changed=False)

    def keep_token(self, token):
        token_file = self.module.params['token_file']
        if token is None:
            self.module.warn('the agent was created, but the answer carrying its token was lost on the network: '
                             'issue a new token in the Piopiy dashboard')
        elif token_file:
            write_secret_file(token_file, token)
            self.extra['agent_token_file'] = token_file
        elif self.module.params['return_token']:
            self.extra['agent_token'] = token


def validate(module):
    """Fail on bad input before anything is sent."""
    params = module.params
    if params['name'] is not None and not params['name'].strip():
        module.fail_json(msg='name must not be empty: give the agent a name such as prod-support-agent')
    if params['language'] is not None and not BCP47.match(params['language']):
        module.fail_json(msg='language %r is not a BCP 47 tag: use a tag such as en-US, en-IN, hi-IN or ta-IN' % params['language'])
    if params['token_file'] and not params['return_token']:
        module.fail_json(msg='token_file and return_token=false contradict each other: keep the token in token_file, or drop it')
    if params['state'] == 'absent' and params['phone_numbers'] is not None:
        module.fail_json(msg='phone_numbers is only used with state=present: to unmap the numbers of an agent, use '
                             'piopiy.voice.piopiy_number_route with state=absent')
    if params['state'] == 'present' and params['token_file']:
        problem = secret_file_problem(params['token_file'])
        if problem:
            module.fail_json(msg='token_file %s cannot be written (%s): fix the path before creating an agent' % (params['token_file'], problem))


def main():
    module = piopiy_module(
        dict(
            name=dict(type='str'),
            id=dict(type='str'),
            language=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            token_file=dict(type='path'),
            return_token=dict(type='bool', default=True),
            phone_numbers=dict(type='list', elements='str'),
            purge_phone_numbers=dict(type='bool', default=True),
            parallel_requests=dict(type='int', default=8),
        ),
        required_one_of=[('name', 'id')],
    )
    validate(module)
    Agent(module).run()


if __name__ == '__main__':
    main()
