#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_agent_rotation
short_description: Rotate the credentials of a Piopiy Voice AI agent by replacement
version_added: 0.2.0
description:
  - Piopiy issues an agent's token only in the answer that creates the agent, so a new token means a new agent. This
    module replaces the agent named O(name) by a successor with new credentials, moves every number to it, and gives it
    the agent's name, so that every number always rings an agent.
  - "A rotation of agent NAME (id OLD) goes: 1. create the successor C(NAME--rotating-OLD) with the same language;
    2. write its credentials to O(token_file), keeping the old file as C(<token_file>.previous);
    3. the caller's hand-over, between O(phase=prepare) and O(phase=finish), such as restarting the runtime with the new
    credentials; 4. route every number of OLD to the successor, with the upsert, never removing a route;
    5. delete OLD, after O(drain_seconds), and rename the successor to NAME."
  - C(<token_file>.previous) holds the old credentials until the rotation completes, and is removed by the run that
    completes it (the rename), so that a runtime not yet restarted can still be pointed back at them. A rotation that
    starts replaces any C(.previous) left by an earlier rotation that was stopped after its rename.
  - Resumable. The successor's name says which agent it replaces, so a run after an interruption at any step finishes the
    same rotation from where it stopped, never makes a second successor, and replaces a successor whose token was never
    stored (while no number routes to it yet).
  - While a rotation is in progress (the successor exists), M(piopiy.voice.piopiy_agent) on the agent,
    M(piopiy.voice.piopiy_number_route) with O(piopiy.voice.piopiy_number_route#module:agent_name) of the agent, and
    M(piopiy.voice.piopiy_fleet) with an environment of the agent fail before any write, naming the rotation and saying
    how to finish it, which is to run this module again.
  - Every run of one rotation returns the same RV(rotation_id), C(rotation-OLD), which the audit trail records.
  - Reads the agents and the routes, never the purchased numbers, as a rotation moves only numbers that are routed.
  - "Runs on one machine take turns: the task holds the lock on the agent name that M(piopiy.voice.piopiy_agent) holds
    when it creates the agent, from before it reads until after its last write, O(drain_seconds) included. See
    O(lock_timeout). Check mode takes no lock."
  - See C(docs/rotation.md) in the collection for how a runtime reads the credentials, and the steps with a hand-over.
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  name:
    description:
      - The name of the agent whose credentials are rotated. After the rotation, the successor has this name.
    type: str
    required: true
  token_file:
    description:
      - Path of the file that receives the successor's credentials, in O(token_file_format), written atomically with
        mode C(0600), the old file kept as C(<token_file>.previous) until the rotation completes.
      - Usually the file that M(piopiy.voice.piopiy_agent) wrote when it created the agent, and that the runtime reads.
      - A missing directory is made with mode C(0700); a path under a file, an unwritable directory or an existing file that
        is not a regular file is refused before anything is created.
      - No number moves to the successor before its credentials are in this file; a successor whose token could not be
        stored fails the run, and the next run replaces it.
    type: path
    required: true
  token_file_format:
    description:
      - V(token) writes the token alone on one line (the file's modification time is its issue time).
      - V(env) writes an environment file that systemd (C(EnvironmentFile=)), docker (C(--env-file)) and a
        Kubernetes secret generator read as it is, with the agent id, the token and C(PIOPIY_TOKEN_ISSUED_AT)
        (the issue time in ISO 8601 UTC, which O(token_max_age) reads), after a comment line.
    type: str
    choices: [token, env]
    default: token
  token_env_names:
    description:
      - With O(token_file_format=env), the variable names of the agent id (key C(agent_id)) and the token (key C(token)).
      - "The default is the pair the piopiy-ai runtime reads, C(AGENT_ID) and C(AGENT_TOKEN). The piopiy-agent runtime
        reads C(PIOPIY_AGENT_ID) and C(PIOPIY_TOKEN); give C({agent_id: PIOPIY_AGENT_ID, token: PIOPIY_TOKEN}) for it."
    type: dict
  start:
    description:
      - When a new rotation starts, if none is in progress. V(now) starts one on demand. V(due) starts one when
        O(token_file) says the token is older than O(token_max_age), holds no token (a lost token), or, as an env file,
        holds the credentials of another agent.
      - A rotation in progress is always resumed, whatever O(start) says.
    type: str
    choices: [now, due]
    default: now
  phase:
    description:
      - V(all) runs every step in one task. V(prepare) runs steps 1 and 2 (or nothing when the successor's credentials
        are stored), V(finish) steps 4 and 5 of a rotation in progress (nothing when none is), so that the caller's
        hand-over can run between them, for example restarting the runtime with the new credentials.
      - In check mode, nothing is written, and V(prepare) shows every step left, as V(all) does.
    type: str
    choices: [all, prepare, finish]
    default: all
  token_max_age:
    description:
      - With O(start=due), the maximum age of a token, such as V(90d), V(12h), V(30m), V(45s) or V(2w); a bare number is days.
    type: str
  drain_seconds:
    description:
      - How long to wait, once every number routes to the successor, before deleting the old agent, so that the calls in
        progress on it can end. The task holds the lock on the agent name meanwhile.
    type: int
    default: 0
  lock_timeout:
    description:
      - How many seconds the task waits for the lock on the agent name while another run on the same machine holds it,
        before failing, naming the lock file and the pid of the run that holds it. V(0) fails at once.
    type: int
    default: 300
seealso:
  - module: piopiy.voice.piopiy_agent
    description: Create the agent and keep its first token in the same O(token_file).
  - module: piopiy.voice.piopiy_agent_info
    description: List agents; a successor of a rotation in progress is named C(NAME--rotating-OLD).
extends_documentation_fragment:
  - piopiy.voice.piopiy
  - piopiy.voice.piopiy.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the agent named O(name) before and after the run.
  platform:
    platforms: all
"""

EXAMPLES = r"""
- name: Rotate the credentials of the prod support agent
  module_defaults:
    group/piopiy.voice.piopiy:
      api_key: "{{ vault_piopiy_api_key }}"
  block:
    - name: Rotate when the token is older than 90 days, in one task (no hand-over)
      piopiy.voice.piopiy_agent_rotation:
        name: prod-support-agent
        start: due
        token_max_age: 90d
        token_file: /etc/piopiy/prod-support-agent.env
        token_file_format: env
        drain_seconds: 30

    - name: Create the successor and store its credentials for the piopiy-agent runtime
      piopiy.voice.piopiy_agent_rotation:
        name: prod-support-agent
        phase: prepare
        token_file: /etc/piopiy/prod-support-agent.env
        token_file_format: env
        token_env_names:
          agent_id: PIOPIY_AGENT_ID
          token: PIOPIY_TOKEN
      register: rotation

    - name: Hand over, restarting the runtime with the new credentials
      ansible.builtin.systemd_service:
        name: piopiy-agent
        state: restarted
      when:
        - rotation.rotation.in_progress
        - not rotation.rotation.check_mode

    - name: Move every number to the successor, delete the old agent, rename the successor
      piopiy.voice.piopiy_agent_rotation:
        name: prod-support-agent
        phase: finish
        token_file: /etc/piopiy/prod-support-agent.env
        token_file_format: env
        token_env_names:
          agent_id: PIOPIY_AGENT_ID
          token: PIOPIY_TOKEN
        drain_seconds: 30
"""

RETURN = r"""
agent:
  description:
    - The agent named O(name) after the task; the successor once the rotation completed. Empty while the old agent is
      deleted and the successor not yet renamed.
    - In check mode, as it would be; the id of a successor not yet created is V((new agent\)).
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
      description: The agent's language; the successor keeps the old agent's.
      type: str
      sample: en-US
    status:
      description: The agent's status.
      type: str
      sample: active
rotation_id:
  description: The id of the rotation, the same for every run of one rotation, C(rotation-) and the id of the agent it replaces.
  returned: when the agent or a rotation of it exists
  type: str
  sample: rotation-agent_9x2d41c7
rotation:
  description: Where the rotation stands. In check mode, as it would.
  returned: success
  type: dict
  contains:
    id:
      description: The rotation id, as RV(rotation_id).
      type: str
    state_before:
      description: V(idle) (no rotation in progress), V(prepared) (the successor exists beside the old agent) or V(old_deleted) (only the rename is left).
      type: str
    phase:
      description: O(phase).
      type: str
    started:
      description: Whether this run started a rotation.
      type: bool
    reason:
      description: Why it started (on demand, the token's age, a lost token), or why the successor was replaced.
      type: str
    in_progress:
      description: Whether a rotation is in progress after the run; the caller's hand-over runs when it is.
      type: bool
    check_mode:
      description: Whether the run was in check mode, where nothing was written and no hand-over should run.
      type: bool
    completed:
      description: Whether this run completed the rotation.
      type: bool
    successor:
      description: The successor's id and temporary name.
      type: dict
agent_token_file:
  description: The file the successor's credentials were written to. The token itself is never returned.
  returned: when this run created a successor and stored its credentials
  type: str
  sample: /etc/piopiy/prod-support-agent.env
operations:
  description: What the task did, or in check mode would do, in order; one item per write. The audit trail is built from it.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: The operation; C(map) moves a number to the successor.
      type: str
      choices: [create, update, delete, map]
    resource:
      description: The kind of resource, C(agent), or C(route) for a route write.
      type: str
    id:
      description: The agent's id (V((new agent\)) for a successor that check mode would create). Agent operations only.
      type: str
    name:
      description: The agent's name. Agent operations only.
      type: str
    phone_number:
      description: The number. Route operations only.
      type: str
    agent_id:
      description: The agent the number routes to after the map. Route operations only.
      type: str
    before:
      description: The resource before the operation, null for a create.
      type: dict
    after:
      description: The resource after the operation, null for a delete.
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
  description: Every problem that stopped the task before its first write, one message each; RV(msg) joins them.
  returned: on failure, before any write
  type: list
  elements: str
  sample: ["start=due needs token_max_age, a duration such as 90d, 12h or 30m (a bare number is days): got None"]
status:
  description: The HTTP status of the API answer that failed the task; null when no answer came (a lost connection).
  returned: on failure from an API call
  type: int
  sample: 500
error_code:
  description: The API's error code of that answer.
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
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import run_module
from ansible_collections.piopiy.voice.plugins.module_utils.task_rotation import RotationTask

# The options beyond the connection's (doc fragment piopiy.voice.piopiy), as DOCUMENTATION describes them.
ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    token_file=dict(type='path', required=True),
    token_file_format=dict(type='str', choices=['token', 'env'], default='token'),
    token_env_names=dict(type='dict', no_log=False),  # variable names, not secrets
    start=dict(type='str', choices=['now', 'due'], default='now'),
    phase=dict(type='str', choices=['all', 'prepare', 'finish'], default='all'),
    token_max_age=dict(type='str', no_log=False),  # a duration
    drain_seconds=dict(type='int', default=0),
    lock_timeout=dict(type='int', default=DEFAULT_LOCK_TIMEOUT),
)


def main():
    run_module(ARGUMENT_SPEC, RotationTask)


if __name__ == '__main__':
    main()
