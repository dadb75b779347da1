#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_fleet
short_description: Apply many environments' support agents and numbers to one Piopiy workspace in one plan
version_added: 0.1.0
description:
  - Applies a whole fleet of environments of one workspace at once, each environment being one agent (by name)
    and the phone numbers routed to it, as M(piopiy.voice.piopiy_agent) with O(piopiy.voice.piopiy_agent#module:phone_numbers)
    does for one.
  - The fleet is checked as a whole before anything is written. One number listed by two environments,
    two environments naming one agent, malformed numbers, numbers the workspace has not purchased and
    bad languages fail the task, each named, and nothing is changed.
  - The workspace is read once (one walk each of the agents and routes, whatever the number of environments, and of the
    purchased numbers only when a listed number does not route to its environment's agent yet, up to the page where every
    such number is found), then written in stages, each stage's writes in parallel, so that the result does not depend on
    the order of the environments; agents are created or
    updated first, then every environment's numbers are mapped, then numbers that no environment lists any more
    are unmapped. A number moved from one environment to another is mapped to its new agent (a map replaces a
    route) and never unmapped, and an unmap reads the route fresh first and leaves it alone when it now routes to
    another agent.
  - Piopiy does not keep agent names unique, so two runs started together could each create an agent. Of several
    agents with an environment's agent name, the one with the lowest id is kept, the numbers of the others are moved
    to it (or unmapped, for an O(environments[].exclusive) environment's unlisted numbers) and the others are deleted;
    each run applies this rule to the names it finds duplicated when it reads and, after its writes, to the names it
    created, so whichever run ends last leaves exactly one agent per name. Every such write is in RV(operations).
  - On the machine that runs it, the task holds an exclusive lock on the workspace from before it reads until after its
    last write (not in check mode), so fleet runs of one workspace there take turns, as several hosts that all run the
    task without C(run_once) do; see O(lock_timeout). The lock file is in the directory of the
    M(piopiy.voice.piopiy_agent) locks, named by a digest of O(api_base) and of the API key. Runs on other machines are
    covered by the convergence rule.
  - A round of writes that meets a concurrent run's changes (an agent already merged away, a delete refused because
    numbers were mapped to the agent meanwhile) is followed, after a short random pause, by another round of read,
    plan and apply, five rounds at most; its RV(operations) lists the writes of every round.
  - An environment with O(environments[].state=absent) is removed. Its numbers are unmapped in the stage of the unmaps (those
    that another environment of the fleet lists are mapped to it instead), then its agent, and any other agent with its
    name, is deleted in the last stage. A removal is refused before any write, in check mode too, unless
    O(confirm_removal) names the environment; an environment already removed plans nothing and needs no confirmation.
  - The token of the agent created for an environment is kept in its O(environments[].token_file) (or under O(token_dir)),
    once the run's writes are done, atomically with mode C(0600), as M(piopiy.voice.piopiy_agent) writes it; never returned.
  - The playbook C(playbooks/support_agent.yml) runs it once per workspace over an inventory of environments, after
    checking every environment's variables together (see C(docs/inventory.md) in the collection).
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  environments:
    description:
      - The environments of the fleet, all in the workspace of O(api_key).
      - Environments not listed are not touched.
    type: list
    elements: dict
    required: true
    suboptions:
      environment:
        description: The environment's name, such as C(prod); the key of its result in RV(environments).
        type: str
        required: true
      state:
        description:
          - V(present) ensures the environment's agent and numbers.
          - V(absent) removes the environment, its numbers unmapped and its agent deleted; it needs O(confirm_removal).
            O(environments[].phone_numbers) must then be empty.
        type: str
        choices: [present, absent]
        default: present
        version_added: 0.2.0
      name:
        description: The name of the environment's agent; by default the environment's name followed by C(-support-agent).
        type: str
      language:
        description:
          - The agent's language, a BCP 47 tag such as C(en-US) or C(en-IN).
          - When omitted, a new agent gets C(en-US) and an existing agent keeps its language (and is not read for it).
        type: str
      phone_numbers:
        description:
          - The numbers routed to the environment's agent, in E.164 form (V(+) and 8 to 15 digits; spaces, dashes,
            dots and brackets are removed first).
        type: list
        elements: str
        default: []
      exclusive:
        description:
          - Whether O(environments[].phone_numbers) is the agent's complete set, so that numbers routed to it and listed by
            no environment of the fleet are unmapped.
        type: bool
        default: true
      max_route_changes:
        description:
          - The most route changes (numbers mapped, moved or unmapped) the fleet may make for this environment; a fleet
            whose plan has more for it fails before its first write, naming the environment. Not set, no limit of its own.
          - O(max_route_changes) caps the whole fleet.
        type: int
      allow_protected_changes:
        description:
          - Allow re-routing or unrouting the O(protected_numbers) that this environment lists.
          - When omitted, as O(allow_protected_changes) says for the whole fleet.
        type: bool
      token_file:
        description:
          - When the task creates this environment's agent, the file its token is written to, mode C(0600); it is never
            printed or returned. A missing directory is made with mode C(0700); the path is checked before any write.
          - When omitted, the token goes under O(token_dir) when set, else nowhere.
        type: path
        version_added: 0.2.0
      token_file_format:
        description:
          - V(token) writes the token alone; V(env) writes an env file with the agent id, the token and the issue time, as
            O(piopiy.voice.piopiy_agent#module:token_file_format) does.
        type: str
        choices: [token, env]
        default: token
        version_added: 0.2.0
      token_env_names:
        description:
          - With V(env), the variable names, as O(piopiy.voice.piopiy_agent#module:token_env_names).
        type: dict
        version_added: 0.2.0
  confirm_removal:
    description:
      - The environments whose removal (O(environments[].state=absent)) is confirmed. An environment to remove that is not
        named here, and whose plan deletes or unmaps anything, fails the task before any write, naming what would go.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  bought_numbers:
    description:
      - Numbers that an earlier task of the play buys, such as the RV(piopiy.voice.piopiy_phone_number#module:bought)
        of M(piopiy.voice.piopiy_phone_number) (C(playbooks/support_agent.yml) passes those its buying play bought).
      - In check mode nothing is bought, so these count as purchased and the routes to them are planned; in a real
        run they are read like any other number, and one the earlier task did not buy fails as not purchased.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  rotated_environments:
    description:
      - Environments whose credentials an earlier task of the play rotates (C(playbooks/support_agent.yml) passes those
        with C(support_agent_rotate)), and so finishes a rotation of their agent left in progress.
      - In check mode, such an environment with a rotation in progress is left out of the plan rather than refused, since
        the rotation finishes first and the run plans it afterwards. In a real run they are planned like any other
        environment, and a rotation still in progress is refused.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  numbers_listed_elsewhere:
    description:
      - Numbers of this workspace that environments this task does not apply list, each with the name of that
        environment. C(playbooks/support_agent.yml) passes those of the environments that C(--limit) leaves out.
      - A plan that would unmap or re-route one of them is refused before any write, naming it and its environment.
        Applied together, the number would go to the environment that lists it; applied apart, it would be unmapped.
    type: dict
    default: {}
    version_added: 0.2.0
  merge_duplicate_agents:
    description:
      - Whether several agents with an environment's agent name found when the fleet reads are merged into the one
        with the lowest id (its numbers moved, the others deleted).
      - V(false) fails the task instead, naming the ids. The merge after the fleet's own creates always happens.
    type: bool
    default: true
  token_dir:
    description:
      - A directory (it must exist) to receive the token of each agent the run creates, as C(<environment>.token),
        written atomically with mode C(0600), for the environments without their own O(environments[].token_file).
      - When omitted, the tokens of created agents are not kept anywhere; a new token can be issued in the
        Piopiy dashboard. Tokens are never returned by this module.
    type: path
  parallel_requests:
    description:
      - How many requests are sent at once, from 1 to 64.
      - The default, the most, keeps a large fleet's writes bounded by the API's latency rather than by their number;
        a rate limit answered with 429 pauses them all, so a lower value is only needed for a service that cannot take it.
    type: int
    default: 64
  lock_timeout:
    description:
      - How many seconds the task waits for the lock on the workspace while another fleet run on the same machine holds
        it, before failing, naming the lock file and the pid of the run that holds it. V(0) fails at once.
    type: int
    default: 300
  max_requests_per_second:
    description:
      - A cap on the API requests this task starts per second, over all its parallel requests. V(0) sets no cap.
      - Whatever the cap, a 429 answer pauses every request of the task for the C(Retry-After) the API asks, and
        a request is tried up to 20 times while the API keeps answering 429, so a rate limit slows the run
        down instead of failing it.
    type: float
    default: 0
notes:
  - The guard rails O(max_route_changes), O(protected_numbers) and O(allow_protected_changes) apply to the whole fleet,
    one plan per workspace, so O(max_route_changes) is the cap of the run for that workspace;
    O(environments[].max_route_changes) and O(environments[].allow_protected_changes) apply to one environment.
    They are checked on the plan of the first round, before any write and in check mode too.
seealso:
  - module: piopiy.voice.piopiy_agent
    description: One agent and its numbers.
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
- name: Apply three environments of one workspace in one plan
  piopiy.voice.piopiy_fleet:
    api_key: "{{ vault_piopiy_api_key }}"
    environments:
      - environment: dev
        phone_numbers: ["+19499800001"]
      - environment: staging
        language: en-IN
        phone_numbers: ["+19499800002", "+19499800003"]
      - environment: prod
        name: prod-support-agent
        phone_numbers: ["+19499800004", "+1 (949) 980-0005"]
    token_dir: /etc/piopiy/tokens
  register: fleet

- name: Remove the qa environment, keep a new dev agent's token in an env file
  piopiy.voice.piopiy_fleet:
    api_key: "{{ vault_piopiy_api_key }}"
    environments:
      - environment: qa
        state: absent
      - environment: dev
        phone_numbers: ["+19499800001"]
        token_file: /etc/piopiy/dev.env
        token_file_format: env
    confirm_removal: [qa]

- name: Show what changed for prod
  ansible.builtin.debug:
    msg: "{{ fleet.operations | selectattr('environment', 'equalto', 'prod') | list }}"
"""

RETURN = r"""
environments:
  description: Each environment's result, by environment name. In check mode, as it would be.
  returned: always
  type: dict
  contains:
    agent:
      description:
        - The environment's agent after the task (C(id), C(name), C(language), C(status)); C(language) is null for an
          existing agent whose language was not asked.
        - In check mode, for an agent the task would create, C(id) and C(status) are V((new agent\)).
        - Null for an environment removed (O(environments[].state=absent)).
      type: dict
    environment:
      description: The environment's name, as the key of this result; a report files the environment's changes under it.
      type: str
      version_added: 0.2.0
    agent_name:
      description: The name of the environment's agent, also when the agent was removed or is yet to be created.
      type: str
      version_added: 0.2.0
    state:
      description: The environment's O(environments[].state).
      type: str
      version_added: 0.2.0
    phone_numbers:
      description: The numbers routed to the agent after the task, sorted.
      type: list
      elements: str
    changed:
      description: Whether a write for this environment was applied.
      type: bool
    writes:
      description:
        - How many writes were made for this environment (in check mode, would be made); the writes themselves are the
          items of RV(operations) whose C(environment) is this one.
      type: int
      version_added: 0.2.0
    agent_token_file:
      description: The file the token of the agent created for this environment was written to.
      returned: when the agent was created and O(environments[].token_file) or O(token_dir) is set
      type: str
  sample:
    prod:
      environment: prod
      agent_name: prod-support-agent
      state: present
      agent: {id: agent_9x2d41c7, name: prod-support-agent, language: en-IN, status: active}
      phone_numbers: ["+19499800004", "+19499800005"]
      changed: true
      writes: 1
workspace:
  description:
    - What the task read of the workspace before its writes.
    - The API never says which workspace an API key reaches, but agent ids are the API's own, so two tasks with two API
      keys that return one C(lowest_agent_id) reached one workspace. C(playbooks/support_agent.yml) refuses such an
      inventory, since each key's environments would be checked without the others.
  returned: always
  type: dict
  version_added: 0.2.0
  contains:
    agents:
      description: How many agents the workspace listed.
      type: int
    lowest_agent_id:
      description: The lowest of the ids of those agents, in sort order; null when the workspace has no agent.
      type: str
  sample: {agents: 3, lowest_agent_id: agent_0c27a1a5a98f}
operations:
  description: Every write of the task, or in check mode that it would make, in stage order. The audit trail is built from it.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: The operation.
      type: str
      choices: [create, update, delete, map, unmap]
    resource:
      description: C(agent) or C(route).
      type: str
    id:
      description: The agent's id. Agent operations only.
      type: str
    name:
      description: The agent's name. Agent operations only.
      type: str
    phone_number:
      description: The number. Route operations only.
      type: str
    agent_id:
      description: The agent the number routes to after a map, or routed to before an unmap. Route operations only.
      type: str
    environment:
      description: The environment the write is for, a key of RV(environments).
      type: str
      version_added: 0.2.0
    before:
      description: The resource before the operation, null for a create, or a map of a number without a route.
      type: dict
    after:
      description: The resource after the operation, null for a delete or an unmap.
      type: dict
msg:
  description: What failed and how to fix it.
  returned: on failure
  type: str
lock_file:
  description: The lock file of the workspace that the task could not take in time, or could not use.
  returned: on failure, when the lock is the cause
  type: str
  sample: /tmp/piopiy-voice-locks-1000/fleet-5c0ffee5c0ffee5c0ffee5c0ffee5c0f.lock
problems:
  description: Every problem that stopped the task before its first write, one message each, naming the environments and values.
  returned: on failure, before any write
  type: list
  elements: str
  sample: ["number +19499800002 is listed by 2 environments (dev, prod): a number routes to one agent; list it in one environment"]
numbers:
  description: The numbers a failure is about, such as those not purchased in the workspace.
  returned: on failure, when numbers are the cause
  type: list
  elements: str
status:
  description: The HTTP status of the API answer that failed the task; null when no answer came.
  returned: on failure from an API call
  type: int
error_code:
  description: The API's error code of that answer.
  returned: on failure from an API call
  type: str
request_id:
  description: The API's id of that request, to quote to Piopiy support.
  returned: on failure from an API call
  type: str
"""

from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import DEFAULT_LOCK_TIMEOUT
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import GUARD_RAILS_SPEC, run_module
from ansible_collections.piopiy.voice.plugins.module_utils.task_workspace import WorkspaceTask

# The options beyond the connection's (doc fragment piopiy.voice.piopiy), as DOCUMENTATION describes them.
ARGUMENT_SPEC = dict(
    environments=dict(type='list', elements='dict', required=True, options=dict(
        environment=dict(type='str', required=True),
        name=dict(type='str'),
        language=dict(type='str'),
        phone_numbers=dict(type='list', elements='str', default=[]),
        exclusive=dict(type='bool', default=True),
        max_route_changes=dict(type='int'),
        allow_protected_changes=dict(type='bool'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        token_file=dict(type='path'),
        token_file_format=dict(type='str', choices=['token', 'env'], default='token'),
        token_env_names=dict(type='dict', no_log=False),  # variable names, not secrets
    )),
    confirm_removal=dict(type='list', elements='str', default=[]),
    merge_duplicate_agents=dict(type='bool', default=True),
    bought_numbers=dict(type='list', elements='str', default=[]),
    rotated_environments=dict(type='list', elements='str', default=[]),
    numbers_listed_elsewhere=dict(type='dict', default={}),
    token_dir=dict(type='path'),
    parallel_requests=dict(type='int', default=64),
    max_requests_per_second=dict(type='float', default=0),
    lock_timeout=dict(type='int', default=DEFAULT_LOCK_TIMEOUT),
    **GUARD_RAILS_SPEC
)


def main():
    run_module(ARGUMENT_SPEC, WorkspaceTask)


if __name__ == '__main__':
    main()
