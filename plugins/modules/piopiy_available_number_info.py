#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_available_number_info
short_description: Search the phone numbers Piopiy has for sale in a region
version_added: 0.2.0
description:
  - Searches the numbers for sale in a region, with Piopiy's published search (C(GET /list-available-numbers)),
    following its cursor pages until O(limit) numbers are found or the list ends.
  - Never buys or changes anything. To buy numbers, pin the ones you choose in the inventory and let
    M(piopiy.voice.piopiy_phone_number) buy them within a budget (see the example playbook C(playbooks/buy_numbers.yml)).
  - A number found here may be sold to someone else before you buy it; the buy then fails naming it, and buys nothing.
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  region:
    description:
      - The region to search, a two-letter code such as V(US), V(GB) or V(IN); case does not matter.
    type: str
    required: true
  capability:
    description:
      - Only numbers with this capability, such as V(voice) or V(sms).
      - The published search filters by region only, so this module reads whole pages and keeps the numbers
        that have the capability.
    type: str
  limit:
    description:
      - How many numbers to find, from 1 to 1000. Pages are read until at least this many are found or the
        list ends; every match of the pages read is returned, so there may be a few more.
    type: int
    default: 20
  cursor:
    description:
      - The RV(next_cursor) of an earlier search, to continue it.
    type: str
seealso:
  - module: piopiy.voice.piopiy_phone_number
    description: Buy the numbers you chose, within a budget, or release numbers.
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
- name: Find five US voice numbers for sale
  piopiy.voice.piopiy_available_number_info:
    region: US
    capability: voice
    limit: 5
  register: for_sale

- name: Show them, to pin the ones you choose in the inventory
  ansible.builtin.debug:
    msg: "{{ for_sale.numbers | map(attribute='phone_number') | list }}"

- name: The next five
  piopiy.voice.piopiy_available_number_info:
    region: US
    capability: voice
    limit: 5
    cursor: "{{ for_sale.next_cursor }}"
  when: for_sale.next_cursor
"""

RETURN = r"""
numbers:
  description: The numbers for sale that match, in the API's order.
  returned: success
  type: list
  elements: dict
  contains:
    phone_number:
      description: The number, in E.164 form (the API calls it C(number)).
      type: str
      sample: "+19499810000"
    id:
      description: The API's id of the number.
      type: str
      sample: num_8h3k1
    region:
      description: Its region.
      type: str
      sample: US
    capabilities:
      description: What it can do.
      type: list
      elements: str
      sample: [voice]
next_cursor:
  description: Give it as O(cursor) to continue the search after these numbers; null when the list ended.
  returned: success
  type: str
pages:
  description: How many pages of the list were read.
  returned: success
  type: int
  sample: 1
msg:
  description: What failed and how to fix it.
  returned: on failure
  type: str
problems:
  description: Every problem of the options, one message each; RV(msg) joins them.
  returned: on failure, before any request
  type: list
  elements: str
status:
  description: The HTTP status of the API answer that failed the task; null when no answer came (a lost connection).
  returned: on failure from an API call
  type: int
  sample: 429
error_code:
  description: The API's error code of that answer.
  returned: on failure from an API call
  type: str
  sample: rate_limited
request_id:
  description: The API's id of that request (its C(X-Request-Id) header), to quote to Piopiy support.
  returned: on failure from an API call
  type: str
  sample: req_5f2c9a1b7d3e4f60
"""

from ansible_collections.piopiy.voice.plugins.module_utils.task_available_number import AvailableNumberTask
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import run_module

ARGUMENT_SPEC = dict(
    region=dict(type='str', required=True),
    capability=dict(type='str'),
    limit=dict(type='int', default=20),
    cursor=dict(type='str', no_log=False),  # a page cursor, not a secret
)


def main():
    run_module(ARGUMENT_SPEC, AvailableNumberTask)


if __name__ == '__main__':
    main()
