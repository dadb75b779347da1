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
  - "Runs that could create one agent take turns on the machine that runs the module (for this API module, normally the
    controller, with C(connection: local)): with O(state=present) and O(name) (not O(id)), the task
    holds an exclusive lock on the agent name in the workspace from before it reads until after its last write. Two
    C(ansible-playbook) runs of one playbook started together, or a play over several hosts that all name one agent
    without C(run_once), so create the agent once: the run that waits reads the agent the first one created. The lock
    is a file in a directory of the user's own under the temporary directory, named by a digest of O(api_base), of the
    API key and of the name (never the key itself); the system releases it when its holder ends, however it ends. See
    O(lock_timeout). Check mode takes no lock."
  - "Runs on different machines cannot share that lock, so after creating the agent the task lists the agents again. When
    agents with the same name appeared meanwhile (created by a concurrent run), it applies the convergence rule of
    M(piopiy.voice.piopiy_fleet): the agent with the lowest id is kept, the numbers of O(phone_numbers) and those of the
    other agents are routed to it (a number not listed is unmapped instead with O(exclusive=true)), and the
    others are deleted once their numbers have moved. Every run applies the same rule, so whichever ends last leaves one
    agent with every number. RV(agent) is then the agent kept, and these writes are in RV(operations). When the agent
    this task created is the one merged away, the task warns: O(token_file) (or RV(agent_token)) then holds the token of
    a deleted agent, and a rotation (M(piopiy.voice.piopiy_agent_rotation)) issues a token for the agent kept."
  - Agents with the name that existed when the task read are never merged by it; several of them fail the task, naming the ids.
  - While a credential rotation of the agent named O(name) is in progress (its successor C(NAME--rotating-OLD) exists), the
    task fails before any write, naming the rotation and how to finish it with M(piopiy.voice.piopiy_agent_rotation).
  - "Breaking change in 0.2.0: the options C(rotate), C(rotation_phase), C(token_max_age) and C(drain_seconds) moved to
    M(piopiy.voice.piopiy_agent_rotation) (as O(piopiy.voice.piopiy_agent_rotation#module:start),
    O(piopiy.voice.piopiy_agent_rotation#module:phase), O(piopiy.voice.piopiy_agent_rotation#module:token_max_age) and
    O(piopiy.voice.piopiy_agent_rotation#module:drain_seconds))."
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
      - Path of a file to receive the agent's credentials when this run creates the agent, in O(token_file_format).
      - The file is written atomically with mode C(0600), and the token is then not returned, whatever O(return_token) says.
      - A run that creates nothing never touches the file. When the agent exists and the file holds no token
        (or, as an env file, the credentials of another agent), the run warns that the token was lost; a rotation
        (M(piopiy.voice.piopiy_agent_rotation)) is the fix, since Piopiy issues a token only when it creates an agent.
      - A missing directory is made with mode C(0700) when the token is written; a path under a file, an unwritable
        directory or an existing O(token_file) that is not a regular file is refused before anything is created.
    type: path
  token_file_format:
    description:
      - V(token) writes the token alone on one line (the file's modification time is its issue time).
      - V(env) writes an environment file that systemd (C(EnvironmentFile=)), docker (C(--env-file)) and a
        Kubernetes secret generator read as it is, such as
        C(AGENT_ID=agent_9x2d41c7), C(AGENT_TOKEN=agt_...) and C(PIOPIY_TOKEN_ISSUED_AT=2026-01-31T09:15:02Z)
        (the issue time in ISO 8601 UTC, which O(piopiy.voice.piopiy_agent_rotation#module:token_max_age) reads), after a comment line.
    type: str
    choices: [token, env]
    default: token
  token_env_names:
    description:
      - With O(token_file_format=env), the variable names of the agent id (key C(agent_id)) and the token (key C(token)).
      - "The default is the pair the piopiy-ai runtime reads, C(AGENT_ID) and C(AGENT_TOKEN). The piopiy-agent runtime
        reads C(PIOPIY_AGENT_ID) and C(PIOPIY_TOKEN); give C({agent_id: PIOPIY_AGENT_ID, token: PIOPIY_TOKEN}) for it."
    type: dict
  return_token:
    description:
      - Whether to return the token of an agent this run creates as RV(agent_token), when O(token_file) is not set.
      - "Off by default, so that a token never reaches the terminal unasked. When set, the run warns to set C(no_log=true)
        on the task, as the token is printed with C(-v), and in the C(fatal:) line when a later write of the task fails."
      - Without O(token_file) and with V(false), a new agent's token is dropped, with a warning; rotation gives a new one.
    type: bool
    default: false
  phone_numbers:
    description:
      - The phone numbers routed to the agent, each in E.164 form as in M(piopiy.voice.piopiy_number_route)
        (V(+) and 8 to 15 digits; spaces, dashes, dots and brackets are removed first).
      - Each listed number is routed to the agent, moved from another agent if needed. With
        O(exclusive=true), numbers routed to the agent but not listed are unmapped, so the list is the
        agent's complete set of numbers; V([]) unmaps them all.
      - Every number is checked, well formed and purchased, before the first write. A task with any bad number
        fails, names every bad number, and creates nothing.
      - When omitted, the agent's routes are left alone and not read.
      - With O(state=absent), only V([]) is accepted. Every number routed to the agent is then unmapped, and the
        agent deleted, in one task (the delete is not sent unless every unmap went through).
    type: list
    elements: str
  exclusive:
    description:
      - With O(phone_numbers), whether numbers routed to the agent but not listed are unmapped, as
        O(piopiy.voice.piopiy_number_route#module:exclusive) and the C(exclusive) of M(piopiy.voice.piopiy_fleet) environments.
      - V(false) only adds routes, like M(piopiy.voice.piopiy_number_route) does without O(piopiy.voice.piopiy_number_route#module:exclusive).
      - The alias C(purge_phone_numbers) is deprecated and will be removed in 1.0.0.
    type: bool
    default: true
    aliases: [purge_phone_numbers]
  bought_numbers:
    description:
      - Numbers that an earlier task of the play buys, such as the RV(piopiy.voice.piopiy_phone_number#module:bought)
        of M(piopiy.voice.piopiy_phone_number).
      - In check mode nothing is bought, so these count as purchased and the routes to them are planned; in a real
        run they are read like any other number, and one the earlier task did not buy fails as not purchased.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  parallel_requests:
    description:
      - With O(phone_numbers), how many route writes are sent at once, from 1 to 64. V(1) sends them strictly one after another.
    type: int
    default: 8
  lock_timeout:
    description:
      - How many seconds the task waits for the lock on the agent name (see the notes above) while another run on the same
        machine holds it, before failing, naming the lock file and the pid of the run that holds it. V(0) fails at once.
    type: int
    default: 300
seealso:
  - module: piopiy.voice.piopiy_agent_info
    description: List agents, by name or id.
  - module: piopiy.voice.piopiy_number_route
    description: Route numbers to an agent, or remove routes, without touching the agent.
  - module: piopiy.voice.piopiy_agent_rotation
    description: Rotate an agent's credentials by replacement, as Piopiy issues a token only when it creates an agent.
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
        return_token: true
      register: dev_agent
      no_log: true

    - name: Keep the credentials in an env file the piopiy-agent runtime reads (systemd EnvironmentFile=)
      piopiy.voice.piopiy_agent:
        name: prod-support-agent
        token_file: /etc/piopiy/prod-support-agent.env
        token_file_format: env
        token_env_names:
          agent_id: PIOPIY_AGENT_ID
          token: PIOPIY_TOKEN

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
    - Store it, and set C(no_log) on the task. Not returned when O(token_file) is set, nor by default.
  returned: when the agent was created, O(token_file) is not set and O(return_token=true), also when a later route write of the task failed
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
lock_file:
  description: The lock file on the agent name that the task could not take in time, or could not use.
  returned: on failure, when the lock is the cause
  type: str
  sample: /tmp/piopiy-voice-locks-1000/agent-5c0ffee5c0ffee5c0ffee5c0ffee5c0f.lock
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

from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import DEFAULT_LOCK_TIMEOUT
from ansible_collections.piopiy.voice.plugins.module_utils.task_agent import AgentTask
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import GUARD_RAILS_SPEC, PARALLEL_REQUESTS_SPEC, run_module

# The options beyond the connection's (doc fragment piopiy.voice.piopiy), as DOCUMENTATION describes them.
ARGUMENT_SPEC = dict(
    name=dict(type='str'),
    id=dict(type='str'),
    language=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    token_file=dict(type='path'),
    token_file_format=dict(type='str', choices=['token', 'env'], default='token'),
    token_env_names=dict(type='dict', no_log=False),  # variable names, not secrets
    return_token=dict(type='bool', default=False),
    phone_numbers=dict(type='list', elements='str'),
    bought_numbers=dict(type='list', elements='str', default=[]),
    exclusive=dict(type='bool', default=True, aliases=['purge_phone_numbers'],
                   deprecated_aliases=[dict(name='purge_phone_numbers', version='1.0.0', collection_name='piopiy.voice')]),
    parallel_requests=PARALLEL_REQUESTS_SPEC,
    lock_timeout=dict(type='int', default=DEFAULT_LOCK_TIMEOUT),
    **GUARD_RAILS_SPEC
)


def main():
    run_module(ARGUMENT_SPEC, AgentTask, required_one_of=[('name', 'id')])


if __name__ == '__main__':
    main()
