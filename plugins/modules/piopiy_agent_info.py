#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_agent_info
short_description: List Piopiy Voice AI agents
version_added: 0.1.0
description:
  - Lists the AI agents of a Piopiy workspace, following every page, optionally filtered by name or id.
  - Never changes anything.
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  name:
    description:
      - Only the agents with exactly this name.
    type: str
  id:
    description:
      - Only the agent with this id.
    type: str
  with_language:
    description:
      - Fill in the language of every listed agent. The API's list may leave it out, and then each such agent is read
        by its id, O(parallel_requests) at a time. An agent deleted between the list and its read is left out.
      - Agents found by O(name) or O(id) always carry their language.
    type: bool
    default: false
  parallel_requests:
    description:
      - With O(with_language), how many agents are read at once, from 1 to 64.
    type: int
    default: 8
seealso:
  - module: piopiy.voice.piopiy_agent
    description: An agent, and with O(piopiy.voice.piopiy_agent#module:phone_numbers) its complete set of numbers, in one task.
extends_documentation_fragment:
  - piopiy.voice.piopiy
  - piopiy.voice.piopiy.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: N/A
  platform:
    platforms: all
"""

EXAMPLES = r"""
- name: List every agent of the workspace
  piopiy.voice.piopiy_agent_info:
    api_key: "{{ vault_piopiy_api_key }}"
  register: piopiy

- name: Show the agents' names
  ansible.builtin.debug:
    msg: "{{ piopiy.agents | map(attribute='name') | list }}"

- name: Find the agents with one name
  piopiy.voice.piopiy_agent_info:
    name: prod-support-agent
  register: prod_agents

- name: List every agent with its language, reading up to 16 agents at once
  piopiy.voice.piopiy_agent_info:
    with_language: true
    parallel_requests: 16
  register: piopiy_languages
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
agents:
  description:
    - The matching agents.
    - The API's list may leave out C(language); it is then null for a plain listing, and filled in
      when O(name) or O(id) is given, or O(with_language=true).
  returned: always
  type: list
  elements: dict
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
problems:
  description:
    - Every problem of the options, one message each; the task's C(msg) joins them.
  returned: on failure, before any request
  type: list
  elements: str
  sample: ["parallel_requests must be between 1 and 64, got 0"]
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

from ansible_collections.piopiy.voice.plugins.module_utils.task_info import AgentInfoTask
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import PARALLEL_REQUESTS_SPEC, run_module

# The options beyond the connection's (doc fragment piopiy.voice.piopiy), as DOCUMENTATION describes them.
ARGUMENT_SPEC = dict(
    name=dict(type='str'),
    id=dict(type='str'),
    with_language=dict(type='bool', default=False),
    parallel_requests=PARALLEL_REQUESTS_SPEC,
)


def main():
    run_module(ARGUMENT_SPEC, AgentInfoTask, mutually_exclusive=[('name', 'id')])


if __name__ == '__main__':
    main()
