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
      - Piopiy refuses to delete an agent that still has phone numbers routed to it. The task then fails before any
        write, in check mode too, naming the numbers; give O(phone_numbers=[]) to unmap them first in the same task.
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
      - With O(state=absent), only V([]) is accepted. Every number routed to the agent is then unmapped, and the
        agent deleted, in one task (the delete is not sent unless every unmap went through).
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

    - name: Delete an agent that has no numbers
      piopiy.voice.piopiy_agent:
        name: staging-support-agent
        state: absent

    - name: Unmap every number of an agent, then delete it
      piopiy.voice.piopiy_agent:
        name: dev-support-agent
        state: absent
        phone_numbers: []
"""

RETURN = r"""
agent:
  description:
    - The agent after the task; empty after a delete.
    - In check mode, the agent as it would be; for an agent the task would create, C(id) and C(status) are
      V((new agent\)), as they are only known once the agent is made.
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
      returned: when O(phone_numbers) is given and the agent exists after the task
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
      description: The agent's id (V((new agent\)) for an agent that check mode would create). Agent operations only.
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
        - V((new agent\)) in check mode for a map to an agent the task would create.
      type: str
    before:
      description: The resource before the operation, null for a create, or a map of a number without a route.
      type: dict
    after:
      description: The resource after the operation, null for a delete or an unmap.
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
  description: The numbers a failure is about, such as those not purchased in the workspace, or those still routed to an agent that cannot be deleted.
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

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_agents import (
    find_by_id,
    find_by_name,
    language_problem,
    plan_agent_absent,
    plan_agent_present,
    rename_problem,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_engine import Plan, rendered
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_module import (
    GUARD_RAILS_SPEC,
    PARALLEL_REQUESTS_SPEC,
    PiopiyTask,
    empty_id_problems,
    guard_rails,
    parallel_requests_problem,
    piopiy_module,
    run_task,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_routes import (
    RouteBook,
    guard_problems,
    parse_phone_numbers,
    plan_routes_present,
    plan_unmap_all,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_secret_file import secret_file_problem, write_secret_file


class AgentTask(PiopiyTask):
    """An agent by name or id; with phone_numbers, the agent's plan followed by the route plan for its id."""

    kind = 'agent'

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.numbers, self.number_problems = (None, [])
        if self.params['phone_numbers'] is not None:
            self.numbers, self.number_problems = parse_phone_numbers('phone_numbers', self.params['phone_numbers'])
        self.extra = {}
        self.late = []
        self.agent_id = None  # plan() sets it: the agent's id, or a Pending for the agent the plan creates
        self.guards, self.guard_problems = guard_rails(self.params)

    def validate(self):
        params = self.params
        problems = empty_id_problems(params, 'id') + self.number_problems + self.guard_problems
        problems.append(parallel_requests_problem(params['parallel_requests']))
        if params['name'] is not None and not params['name'].strip():
            problems.append('name must not be empty: give the agent a name such as prod-support-agent')
        problems.append(language_problem(params['language']))
        if params['token_file'] and not params['return_token']:
            problems.append('token_file and return_token=false contradict each other: keep the token in token_file, or drop it')
        if params['state'] == 'absent' and params['phone_numbers']:
            problems.append('with state=absent, phone_numbers can only be [] (unmap every number of the agent, then delete it): '
                            'an agent that is deleted keeps no numbers')
        if params['state'] == 'present' and params['token_file']:
            problem = secret_file_problem(params['token_file'])
            if problem:
                problems.append('token_file %s cannot be written (%s): fix the path before creating an agent' % (params['token_file'], problem))
        return problems

    def read(self, client):
        params = self.params
        state = {'agents': None, 'book': None}
        if params['id']:
            state['lookup'] = find_by_id(client, params['id'])
            current = state['lookup'].agent
            if current and params['name'] and params['name'] != current['name']:
                state['agents'] = client.list_agents()  # a rename must not take another agent's name
        else:
            state['lookup'] = find_by_name(client, params['name'], 'id')
            current = state['lookup'].agent
        if params['state'] == 'absent':
            if current:
                # The API refuses to delete an agent with routes: read them, so that check mode predicts the refusal.
                state['book'] = RouteBook(client.list_routes(agent_id=current['id']))
        elif self.numbers is not None:
            state['book'] = RouteBook.read(client)
        return state

    def plan(self, client, state):
        plan = self.plan_agent_and_routes(client, state)
        plan.problems.extend(guard_problems(plan, set(self.numbers or ()), **self.guards))
        return plan

    def plan_agent_and_routes(self, client, state):
        params, lookup = self.params, state['lookup']
        current = lookup.agent
        plan = Plan(problems=[lookup.problem] if lookup.problem else [])
        if params['state'] == 'absent':
            if current is None:
                return plan
            self.agent_id = current['id']
            if self.numbers == []:  # phone_numbers: [] unmaps them all, then deletes
                unmaps = plan_unmap_all(client, state['book'], current['id'])
                return plan.extend(unmaps).extend(plan_agent_absent(client, current, [], stage=1, requires=unmaps.operations))
            return plan.extend(plan_agent_absent(client, current, state['book'].routed_to(current['id'])))
        if params['id'] and current is None:
            plan.problems.append('no agent with id %s in this workspace: an agent is never created from an id; '
                                 'remove id to create one by name' % params['id'])
            return plan
        if state['agents'] is not None:
            plan.problems.append(rename_problem(state['agents'], current, params['name']))
            plan.problems = [problem for problem in plan.problems if problem]
        agent_plan, self.agent_id = plan_agent_present(client, current, params['name'], params['language'], self.keep_token)
        plan.extend(agent_plan)
        if self.numbers is not None:
            plan.extend(plan_routes_present(client, state['book'], self.numbers, self.agent_id, params['purge_phone_numbers'], stage=1))
        return plan

    def result(self, state, outcomes):
        current = state['lookup'].agent
        after = current
        for outcome in outcomes:
            if outcome.operation.resource == 'agent' and outcome.applied:
                after = outcome.resource  # None after a delete
        before = dict(current) if current else None
        if self.numbers is not None and before:
            before['phone_numbers'] = state['book'].routed_to(current['id'])
        if self.numbers is not None and after is not None:
            routes = state['book'].after(outcomes)
            agent_id = rendered(self.agent_id)
            after = dict(after, phone_numbers=sorted(number for number, route in routes.items() if rendered(route['agent_id']) == agent_id))
        after = rendered(after)
        return dict(self.extra, agent=after or {}), before or {}, after or {}

    def keep_token(self, token):
        """The new agent's token: to token_file, or returned. Piopiy shows it once, in the create's answer."""
        token_file = self.params['token_file']
        if token is None:
            self.module.warn('the agent was created, but the answer carrying its token was lost on the network: '
                             'issue a new token in the Piopiy dashboard')
        elif token_file:
            try:
                write_secret_file(token_file, token)
            except OSError as error:
                self.late.append('the agent was created, but its token could not be written to token_file %s (%s): the token '
                                 'is not shown anywhere; issue a new one in the Piopiy dashboard' % (token_file, error.strerror or error))
                return
            self.extra['agent_token_file'] = token_file
        elif self.params['return_token']:
            self.extra['agent_token'] = token

    def problems_after_apply(self):
        return self.late


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
            parallel_requests=PARALLEL_REQUESTS_SPEC,
            **GUARD_RAILS_SPEC
        ),
        required_one_of=[('name', 'id')],
    )
    run_task(module, AgentTask(module), workers=module.params['parallel_requests'])


if __name__ == '__main__':
    main()
