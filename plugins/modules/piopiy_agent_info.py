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
"""

RETURN = r"""
agents:
  description:
    - The matching agents.
    - The API's list may leave out C(language); it is then null for a plain listing, and filled in
      when O(name) or O(id) is given.
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

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_agents import agents_named, complete, find_by_id, normalize_agent
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import PiopiyAPIError
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_module import empty_id_problems, fail_api, piopiy_client, piopiy_module


def find_agents(client, name=None, agent_id=None):
    if agent_id:
        agent = find_by_id(client, agent_id).agent
        return [agent] if agent else []
    if name is None:
        return [normalize_agent(agent) for agent in client.list_agents()]
    # A name matches few agents: complete each one's language (None when it was deleted in between).
    return [agent for agent in (complete(client, item) for item in agents_named(client.list_agents(), name)) if agent]


def main():
    module = piopiy_module(
        dict(name=dict(type='str'), id=dict(type='str')),
        mutually_exclusive=[('name', 'id')],
    )
    problems = empty_id_problems(module.params, 'id')
    if problems:
        module.fail_json(msg=problems[0])
    try:
        agents = find_agents(piopiy_client(module), module.params['name'], module.params['id'])
    except PiopiyAPIError as error:
        fail_api(module, error)
    module.exit_json(changed=False, agents=agents)


if __name__ == '__main__':
    main()
