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
    controller, with C(connection: local)): with O(state=present) and O(name) (not O(id)), and with O(rotate), the task
    holds an exclusive lock on the agent name in the workspace from before it reads until after its last write. Two
    C(ansible-playbook) runs of one playbook started together, or a play over several hosts that all name one agent
    without C(run_once), so create the agent once: the run that waits reads the agent the first one created. The lock
    is a file in a directory of the user's own under the temporary directory, named by a digest of O(api_base), of the
    API key and of the name (never the key itself); the system releases it when its holder ends, however it ends. See
    O(lock_timeout). Check mode takes no lock."
  - "Runs on different machines cannot share that lock, so after creating the agent the task lists the agents again. When
    agents with the same name appeared meanwhile (created by a concurrent run), it applies the convergence rule of
    M(piopiy.voice.piopiy_fleet): the agent with the lowest id is kept, the numbers of O(phone_numbers) and those of the
    other agents are routed to it (a number not listed is unmapped instead with O(purge_phone_numbers=true)), and the
    others are deleted once their numbers have moved. Every run applies the same rule, so whichever ends last leaves one
    agent with every number. RV(agent) is then the agent kept, and these writes are in RV(operations). When the agent
    this task created is the one merged away, the task warns: O(token_file) (or RV(agent_token)) then holds the token of
    a deleted agent, and rotation (O(rotate)) issues a token for the agent kept."
  - Agents with the name that existed when the task read are never merged by it; several of them fail the task, naming the ids.
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
        (or, as an env file, the credentials of another agent), the run warns that the token was lost; rotation
        (O(rotate)) is the fix, since Piopiy issues a token only when it creates an agent.
      - The directory must exist, and an existing O(token_file) must be a regular file;
        both are checked before anything is created.
      - Required with O(rotate).
    type: path
  token_file_format:
    description:
      - V(token) writes the token alone on one line (the file's modification time is its issue time).
      - V(env) writes an environment file that systemd (C(EnvironmentFile=)), docker (C(--env-file)) and a
        Kubernetes secret generator read as it is, such as
        C(AGENT_ID=agent_9x2d41c7), C(AGENT_TOKEN=agt_...) and C(PIOPIY_TOKEN_ISSUED_AT=2026-01-31T09:15:02Z)
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
  return_token:
    description:
      - Whether to return the token of an agent this run creates as RV(agent_token), when O(token_file) is not set.
      - "Off by default, so that a token never reaches the terminal unasked. When set, the run warns to set C(no_log=true)
        on the task, as the token is printed with C(-v), and in the C(fatal:) line when a later write of the task fails."
      - Without O(token_file) and with V(false), a new agent's token is dropped, with a warning; rotation gives a new one.
    type: bool
    default: false
  rotate:
    description:
      - Rotate the agent's credentials by replacement, as Piopiy issues a token only when it creates an agent.
        V(now) rotates on demand; V(due) rotates when O(token_file) says the token is older than O(token_max_age),
        or holds no token (a lost token); V(never) does not rotate.
      - "A rotation of agent NAME (id OLD): 1. creates the successor C(NAME--rotating-OLD) with the same language;
        2. writes its credentials to O(token_file), keeping the old file as C(<token_file>.previous) until the rotation
        completes; 3. (the caller's hand-over, between O(rotation_phase=prepare) and O(rotation_phase=finish));
        4. routes every number of OLD to the successor, with the upsert, never removing a route, so every number always
        rings an agent; 5. deletes OLD, after O(drain_seconds), and renames the successor to NAME."
      - Resumable. The successor's name says which agent it replaces, so a run after an interruption at any step finishes
        the same rotation, never makes a second successor, and replaces a successor whose token was never stored.
        While a rotation is in progress, other tasks on the agent fail, saying how to finish it.
      - Every run of one rotation returns the same RV(rotation_id), C(rotation-OLD), which the audit trail records.
      - With O(rotate), only O(name), O(token_file) and its format, O(token_max_age), O(rotation_phase) and
        O(drain_seconds) apply. O(token_file) is required.
    type: str
    choices: [never, now, due]
    default: never
  rotation_phase:
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
      - With O(rotate=due), the maximum age of a token, such as V(90d), V(12h), V(30m), V(45s) or V(2w); a bare number is days.
    type: str
  drain_seconds:
    description:
      - With O(rotate), how long to wait, once every number routes to the successor, before deleting the old agent,
        so that the calls in progress on it can end.
    type: int
    default: 0
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
  lock_timeout:
    description:
      - How many seconds the task waits for the lock on the agent name (see the notes above) while another run on the same
        machine holds it, before failing, naming the lock file and the pid of the run that holds it. V(0) fails at once.
      - A rotation holds the lock during its O(drain_seconds) too.
    type: int
    default: 300
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

    - name: Rotate the credentials when they are older than 90 days, in one task (no hand-over)
      piopiy.voice.piopiy_agent:
        name: prod-support-agent
        rotate: due
        token_max_age: 90d
        token_file: /etc/piopiy/prod-support-agent.env
        token_file_format: env
        drain_seconds: 30

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
    - Store it, and set C(no_log) on the task. Not returned when O(token_file) is set, nor by default.
  returned: when the agent was created, O(token_file) is not set and O(return_token=true), also when a later route write of the task failed
  type: str
rotation_id:
  description: The id of the rotation, the same for every run of one rotation, C(rotation-) and the id of the agent it replaces.
  returned: with O(rotate), when the agent exists
  type: str
  sample: rotation-agent_9x2d41c7
rotation:
  description: With O(rotate), where the rotation stands. In check mode, as it would.
  returned: with O(rotate)
  type: dict
  contains:
    id:
      description: The rotation id, as RV(rotation_id).
      type: str
    state_before:
      description: V(idle) (no rotation in progress), V(prepared) (the successor exists beside the old agent) or V(old_deleted) (only the rename is left).
      type: str
    phase:
      description: O(rotation_phase).
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
      description: The operation; C(map) and C(unmap) are route writes made for O(phone_numbers) or a rotation.
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

import datetime
import time

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_agents import (
    complete,
    find_by_id,
    find_by_name,
    language_problem,
    normalize_agent,
    plan_agent_absent,
    plan_agent_present,
    rename_problem,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_engine import Plan, rendered
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_fleet import (
    CONVERGENCE_ROUNDS,
    pause_before_round,
    Environment,
    changed_underneath,
    plan_converge,
    sorted_by_id,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_lock import DEFAULT_LOCK_TIMEOUT, AgentLock, lock_path
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
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_rotation import (
    IDLE,
    PREPARED,
    due_reason,
    plan_create_successor,
    plan_finish,
    plan_replace_lost_successor,
    read_rotation,
    rotation_problem_in_progress,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_routes import (
    RouteBook,
    guard_problems,
    numbers_routed_to,
    parse_phone_numbers,
    plan_routes_present,
    plan_unmap_all,
)
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_secret_file import (
    ENV_FORMAT,
    drop_backup,
    env_names_problems,
    holds_credentials_of,
    keep_backup,
    parse_duration,
    read_credentials,
    secret_file_problem,
    write_credentials,
)

ROTATE_ADVICE = ('a token is only issued when an agent is created, so rotate the agent to get a new one '
                 '(rotate=now with token_file; in the support_agent role, support_agent_rotate=now)')


class CredentialsNotStored(PiopiyAPIError):
    """A rotation's successor was created but its credentials could not be stored: nothing that relies on them may follow."""

    def __init__(self, reason):
        super().__init__('POST', '/ai-agents', hint=reason)

    def describe(self):
        return self.hint


class CredentialKeeper:
    """Where a new agent's token goes: token_file, else the result when return_token asks for it, else nowhere (with a warning).

    The create hands over the token (take), and the confirmed agent then gives the id an env file needs (store).
    """

    def __init__(self, module, backup=False, strict=False):
        self.module = module
        self.params = module.params
        self.backup = backup  # keep the old file as <file>.previous: a rotation replaces credentials in use
        self.strict = strict  # fail the create when its token cannot be stored: a rotation must not go on without it
        self.token = None
        self.stored = False
        self.extra = {}
        self.late = []

    def take(self, token):
        self.token = token

    def kept(self, operation):
        """The create operation, storing the token of the agent its answer confirms."""
        send = operation.send

        def send_and_store(resolved):
            agent = send(resolved)
            self.store(agent)
            return agent
        operation.send = send_and_store
        return operation

    def store(self, agent):
        token, self.token = self.token, None
        name = agent.get('name')
        if token is None:
            lost = 'agent %s was created, but the answer carrying its token was lost on the network' % name
            if self.strict:
                raise CredentialsNotStored(lost + ': run the rotation again, which replaces this successor')
            self.module.warn('%s: %s' % (lost, ROTATE_ADVICE))
        elif self.params['token_file']:
            self.write(agent, token)
        elif self.params['return_token']:
            self.extra['agent_token'] = token
            self.module.warn('the token of new agent %s is returned as agent_token: set no_log: true on this task, or it is printed '
                             'with -v and on failure; token_file keeps it out of the output' % name)
        else:
            self.module.warn('the token of new agent %s was not kept: set token_file (or return_token=true with no_log: true) to keep '
                             'a new token; %s' % (name, ROTATE_ADVICE))

    def write(self, agent, token):
        path = self.params['token_file']
        try:
            if self.backup:
                keep_backup(path)
            write_credentials(path, self.params['token_file_format'], agent['id'], token,
                              datetime.datetime.now(datetime.timezone.utc), self.params['token_env_names'])
        except (OSError, ValueError) as error:
            reason = ('agent %s was created, but its token could not be written to token_file %s (%s): the token is not shown '
                      'anywhere; %s' % (agent.get('name'), path, getattr(error, 'strerror', None) or error, ROTATE_ADVICE))
            if self.strict:
                raise CredentialsNotStored(reason)
            self.late.append(reason)
            return
        self.stored = True
        self.extra['agent_token_file'] = path


def lost_token_warning(params, agent):
    """A warning when token_file should hold the existing agent's token but does not: it was lost, and rotation is the fix."""
    path = params['token_file']
    if not path or agent is None or not isinstance(agent.get('id'), str):
        return None
    stored = read_credentials(path, params['token_file_format'], params['token_env_names'])
    if not stored.has_token:
        return ('agent %s (%s) exists but token_file %s holds no token: its token was lost (a run stopped between the create and '
                'the write, or the answer was lost); %s' % (agent['name'], agent['id'], path, ROTATE_ADVICE))
    if params['token_file_format'] == ENV_FORMAT and stored.agent_id != agent['id']:
        return ('token_file %s holds the credentials of agent %s, not of agent %s (%s): %s'
                % (path, stored.agent_id, agent['name'], agent['id'], ROTATE_ADVICE))
    return None


def name_lock(params):
    """The lock on the agent name in the workspace of the task, on this machine; None without a name (validate() says so)."""
    if not params['name'] or not params['name'].strip():
        return None
    return AgentLock(lock_path(params['api_base'], params['api_key'], params['name']), timeout=params['lock_timeout'],
                     what='agent name %r' % params['name'])


def lock_timeout_problem(seconds):
    if seconds < 0:
        return 'lock_timeout must be 0 or more seconds, got %d' % seconds
    return None


def merged_away_warning(params, own, keep, stored, returned):
    """The warning when the agent this task created was merged into a concurrent run's agent, and so deleted."""
    text = ('agent %r (%s) that this task created was merged into agent %s, which a concurrent run created with the same name '
            'and which has the lowest id of them (the convergence rule): its numbers now route to %s, and %s was deleted'
            % (params['name'], own['id'], keep['id'], keep['id'], own['id']))
    if stored:
        text += ('; token_file %s holds the token of the deleted agent %s, not of %s: %s'
                 % (params['token_file'], own['id'], keep['id'], ROTATE_ADVICE))
    elif returned:
        text += '; the agent_token returned is that of the deleted agent %s: %s' % (own['id'], ROTATE_ADVICE)
    return text


def token_file_problems(params):
    problems = []
    if params['token_env_names'] is not None:
        problems.extend(env_names_problems(params['token_env_names']))
    if params['state'] == 'present' and params['token_file']:
        problem = secret_file_problem(params['token_file'])
        if problem:
            problems.append('token_file %s cannot be written (%s): fix the path before creating an agent' % (params['token_file'], problem))
    return problems


class AgentTask(PiopiyTask):
    """An agent by name or id; with phone_numbers, the agent's plan followed by the route plan for its id."""

    kind = 'agent'

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.numbers, self.number_problems = (None, [])
        if self.params['phone_numbers'] is not None:
            self.numbers, self.number_problems = parse_phone_numbers('phone_numbers', self.params['phone_numbers'])
        self.keeper = CredentialKeeper(module)
        self.agent_id = None  # plan() sets it: the agent's id, or a Pending for the agent the plan creates
        self.guards, self.guard_problems = guard_rails(self.params)
        self.converged = None  # converge() sets it: (the agent kept, the routes read with it, the outcomes of converging)
        self.late = []

    def lock(self):
        """Creating by name: the lock on the name, so that runs on this machine never both create it."""
        params = self.params
        if params['state'] != 'present' or params['id'] or self.module.check_mode:
            return None
        return name_lock(params)

    def converge(self, client, state, outcomes, door):
        """After this task created the agent: apply the convergence rule when agents with its name appeared meanwhile.

        The read found no agent with the name (else nothing was created), so every other agent with it now was created by a
        concurrent run, on another machine (runs on this one take turns). As piopiy_fleet does: the lowest id is kept, the
        numbers this task lists and those of the others are routed to it, and the others are deleted. A round whose writes
        meet the concurrent run's own merge is followed by another.
        """
        created = [outcome.resource for outcome in outcomes
                   if outcome.applied and outcome.operation.resource == 'agent' and outcome.operation.action == 'create']
        if not created:
            return outcomes
        own, params = created[0], self.params
        numbers = self.numbers or []
        environment = Environment(params['name'], params['name'], params['language'], numbers,
                                  self.numbers is not None and params['purge_phone_numbers'])
        for round_number in range(CONVERGENCE_ROUNDS):
            if round_number:
                pause_before_round(round_number)
            try:
                matches = sorted_by_id(client.list_agents(), params['name'])
                if [agent['id'] for agent in matches] == [own['id']]:
                    break  # alone with its name: nothing to converge
                if not matches:
                    self.late.append('agent %r (%s) was created, but no agent has that name any more: another run deleted it; '
                                     'run the task again' % (params['name'], own['id']))
                    break
                book = RouteBook(client.list_routes())
                keep = own if matches[0]['id'] == own['id'] else complete(client, matches[0]) or normalize_agent(matches[0])
            except PiopiyAPIError as error:
                self.late.append('agent %r (%s) was created; the check for agents a concurrent run created with its name then '
                                 'failed: %s; run the task again' % (params['name'], own['id'], error))
                break
            applied = door.apply(plan_converge(client, book, environment, matches))
            outcomes = [outcome for outcome in outcomes if outcome.applied] + applied  # converging retries what failed
            self.converged = (keep, book, applied)
            if not changed_underneath([outcome for outcome in applied if not outcome.applied]):
                break
        if self.converged and self.converged[0]['id'] != own['id']:
            self.module.warn(merged_away_warning(params, own, self.converged[0], self.keeper.stored, 'agent_token' in self.keeper.extra))
        return outcomes

    def validate(self):
        params = self.params
        problems = empty_id_problems(params, 'id') + self.number_problems + self.guard_problems + token_file_problems(params)
        problems.append(parallel_requests_problem(params['parallel_requests']))
        problems.append(lock_timeout_problem(params['lock_timeout']))
        if params['name'] is not None and not params['name'].strip():
            problems.append('name must not be empty: give the agent a name such as prod-support-agent')
        problems.append(language_problem(params['language']))
        if params['state'] == 'absent' and params['phone_numbers']:
            problems.append('with state=absent, phone_numbers can only be [] (unmap every number of the agent, then delete it): '
                            'an agent that is deleted keeps no numbers')
        return problems

    def read(self, client):
        params = self.params
        state = {'agents': None, 'book': None, 'rotation': None}
        if params['id']:
            state['lookup'] = find_by_id(client, params['id'])
            current = state['lookup'].agent
            if current and params['name'] and params['name'] != current['name']:
                state['agents'] = client.list_agents()  # a rename must not take another agent's name
        else:
            agents = client.list_agents()
            state['rotation'] = rotation_problem_in_progress(agents, params['name'])
            state['lookup'] = find_by_name(client, params['name'], 'id', agents=agents)
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
        plan = Plan(problems=[problem for problem in (lookup.problem, state['rotation']) if problem])
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
        agent_plan, self.agent_id = plan_agent_present(client, current, params['name'], params['language'], self.keeper.take)
        for operation in agent_plan.operations:
            if operation.action == 'create':
                self.keeper.kept(operation)
        plan.extend(agent_plan)
        warning = lost_token_warning(params, current)
        if warning and not plan.problems:
            self.module.warn(warning)
        if self.numbers is not None:
            plan.extend(plan_routes_present(client, state['book'], self.numbers, self.agent_id, params['purge_phone_numbers'], stage=1))
        return plan

    def result(self, state, outcomes):
        current = state['lookup'].agent
        after, book, agent_id = current, state['book'], self.agent_id
        for outcome in outcomes:
            if outcome.operation.resource == 'agent' and outcome.applied:
                after = outcome.resource  # None after a delete
        if self.converged:  # the agent kept by the convergence rule, and the routes as converging left them
            after, book, converging = self.converged
            agent_id, outcomes = after['id'], converging
        before = dict(current) if current else None
        if self.numbers is not None and before:
            before['phone_numbers'] = state['book'].routed_to(current['id'])
        if self.numbers is not None and after is not None:
            after = dict(after, phone_numbers=numbers_routed_to(book.after(outcomes), agent_id))
        after = rendered(after)
        return dict(self.keeper.extra, agent=after or {}), before or {}, after or {}

    def problems_after_apply(self):
        return self.keeper.late + self.late


class RotationTask(PiopiyTask):
    """rotate: replace the agent by a successor with new credentials, in the steps of piopiy_rotation, resumable."""

    kind = 'agent'

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.keeper = CredentialKeeper(module, backup=True, strict=True)
        self.summary = {}

    def validate(self):
        params = self.params
        problems = token_file_problems(params)
        alone = [option for option in ('id', 'language', 'phone_numbers') if params[option] is not None]
        if params['state'] != 'present':
            alone.append('state=absent')
        if alone:
            problems.append('rotate=%s runs alone: leave out %s (ensure the agent and its numbers in another task; the successor '
                            'keeps the language and takes over every number)' % (params['rotate'], ', '.join(alone)))
        if not params['name'] or not params['name'].strip():
            problems.append('rotate needs name: the agent to rotate, by its name')
        if not params['token_file']:
            problems.append('rotate needs token_file: the new agent\'s credentials must be stored before any number moves to it')
        if params['rotate'] == 'due' and parse_duration(params['token_max_age'] or '') is None:
            problems.append('rotate=due needs token_max_age, a duration such as 90d, 12h or 30m (a bare number is days): got %r'
                            % params['token_max_age'])
        problems.append(lock_timeout_problem(params['lock_timeout']))
        if params['drain_seconds'] < 0:
            problems.append('drain_seconds must be 0 or more, got %d' % params['drain_seconds'])
        return problems

    def lock(self):
        """The lock on the agent's name: a rotation and another task on the agent on this machine take turns."""
        return None if self.module.check_mode else name_lock(self.params)

    def read(self, client):
        state = read_rotation(client.list_agents(), self.params['name'])
        if state.canonical and state.canonical.get('language') is None:
            state.canonical = find_by_id(client, state.canonical['id']).agent
        finishing = self.params['rotation_phase'] != 'prepare' or self.module.check_mode
        book = RouteBook.read(client) if finishing and not state.problem else None
        return {'rotation': state, 'book': book}

    def plan(self, client, state):
        rotation, params = state['rotation'], self.params
        plan = Plan(problems=[rotation.problem] if rotation.problem else [])
        if rotation.problem or not params['token_file']:  # validate() names a missing token_file
            return plan
        path, file_format, names = params['token_file'], params['token_file_format'], params['token_env_names']
        self.summary = dict(id=rotation.rotation_id, state_before=rotation.phase, phase=params['rotation_phase'], started=False,
                            reason=None, in_progress=rotation.phase != IDLE, completed=False, check_mode=self.module.check_mode)
        successor = rotation.successor
        stored = successor is not None and holds_credentials_of(path, file_format, successor['id'], names)
        finish_stage = 0
        # Nothing is written in check mode, so prepare shows the steps that finish would take after the hand-over too.
        phase = 'all' if self.module.check_mode and params['rotation_phase'] == 'prepare' else params['rotation_phase']
        if phase != 'finish':
            if rotation.phase == IDLE:
                reason = self.start_reason(rotation)
                if reason:
                    create, successor_id = plan_create_successor(client, rotation, self.keeper.take)
                    successor = create.operations[0].after
                    plan.extend(create)
                    self.summary.update(started=True, reason=reason, in_progress=True)
                    finish_stage, stored = 1, True
            elif rotation.phase == PREPARED and not stored:
                replace, successor_id = plan_replace_lost_successor(client, rotation, state['book'] or RouteBook.read(client), self.keeper.take)
                plan.extend(replace)
                successor = replace.operations[-1].after if replace.operations else successor
                self.summary['reason'] = 'the token file does not hold the successor\'s token: the successor is replaced'
                finish_stage, stored = 2, True
            for operation in plan.operations:
                if operation.action == 'create':
                    self.keeper.kept(operation)
        if successor is not None:
            self.summary['successor'] = {'id': successor['id'], 'name': successor['name']}  # rendered in result(), once its id is known
        if phase != 'prepare' and successor is not None:
            if not stored:
                plan.problems.append('token_file %s does not hold the token of successor %s (%s): run rotation_phase=prepare first, '
                                     'which replaces a successor whose token was lost' % (path, successor['name'], successor['id']))
                return plan
            plan.extend(plan_finish(client, rotation, state['book'], successor, params['name'], self.drain, finish_stage))
        return plan

    def start_reason(self, rotation):
        """Why a rotation starts now, or None: on demand, or due by the token file's age."""
        if rotation.canonical is None:
            return None
        if self.params['rotate'] == 'now':
            return 'rotate=now'
        params = self.params
        stored = read_credentials(params['token_file'], params['token_file_format'], params['token_env_names'])
        if params['token_file_format'] == ENV_FORMAT and stored.has_token and stored.agent_id != rotation.canonical['id']:
            return 'the token file holds the credentials of another agent'
        return due_reason(stored, parse_duration(params['token_max_age']), datetime.datetime.now(datetime.timezone.utc))

    def drain(self):
        if self.params['drain_seconds']:
            time.sleep(self.params['drain_seconds'])

    def result(self, state, outcomes):
        rotation = state['rotation']
        agent = rotation.canonical
        for outcome in outcomes:
            operation = outcome.operation
            if outcome.applied and operation.resource == 'agent' and operation.action == 'delete' and agent and operation.before['id'] == agent['id']:
                agent = None
            if outcome.applied and operation.action == 'update' and outcome.resource['name'] == self.params['name']:
                agent = outcome.resource
                self.summary.update(completed=True, in_progress=False)
        if self.summary.get('completed') and not self.module.check_mode:
            drop_backup(self.params['token_file'])
        before, after = rendered(rotation.canonical) or {}, rendered(agent) or {}
        values = dict(self.keeper.extra, agent=after, rotation=rendered(self.summary))
        if self.summary.get('id'):
            values['rotation_id'] = self.summary['id']
        return values, before, after

    def problems_after_apply(self):
        return self.keeper.late


def main():
    module = piopiy_module(
        dict(
            name=dict(type='str'),
            id=dict(type='str'),
            language=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            token_file=dict(type='path'),
            token_file_format=dict(type='str', choices=['token', 'env'], default='token'),
            token_env_names=dict(type='dict', no_log=False),  # variable names, not secrets
            return_token=dict(type='bool', default=False),
            rotate=dict(type='str', choices=['never', 'now', 'due'], default='never'),
            rotation_phase=dict(type='str', choices=['all', 'prepare', 'finish'], default='all'),
            token_max_age=dict(type='str', no_log=False),  # a duration
            drain_seconds=dict(type='int', default=0),
            phone_numbers=dict(type='list', elements='str'),
            purge_phone_numbers=dict(type='bool', default=True),
            parallel_requests=PARALLEL_REQUESTS_SPEC,
            lock_timeout=dict(type='int', default=DEFAULT_LOCK_TIMEOUT),
            **GUARD_RAILS_SPEC
        ),
        required_one_of=[('name', 'id')],
    )
    task = AgentTask(module) if module.params['rotate'] == 'never' else RotationTask(module)
    run_task(module, task, workers=module.params['parallel_requests'])


if __name__ == '__main__':
    main()
