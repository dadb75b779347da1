#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: piopiy_phone_number
short_description: Buy or release Piopiy phone numbers, within a budget
version_added: 0.2.0
description:
  - Makes a list of phone numbers purchased in the workspace (V(present)), buying those it has not purchased, or
    released (V(absent)), giving back those it has. A number already purchased (or already released) is no change.
  - Buying spends money and a released number may be bought by another customer and lost for good, so both are
    guarded before the first write, in check mode too. Buying needs a budget, O(max_purchases) (default V(0), no
    buys). Releasing needs each number named in O(confirm_release), refuses a number that routes to an agent unless
    O(unroute_first) is set, and refuses the O(protected_numbers) unless O(allow_protected_changes) is set.
    A task over a guard fails naming every number concerned and the setting to change, and changes nothing.
  - Check mode and C(--diff) show exactly which numbers would be bought or released. Every buy and release is an
    item of RV(operations) (C(op=buy) or C(op=release), C(resource=phone_number)), so the C(piopiy.voice.audit)
    callback writes an audit line for it and the C(piopiy.voice.plan) callback a row marked as a money move.
  - A buy is never sent twice. When a buy's answer is lost (a dropped connection, a 5xx), the task reads the
    purchased numbers to tell whether it went through, and buys again only when it certainly did not.
  - Buying (C(POST /buy-phone-number)) and the purchased list are published by Piopiy. The release call is not in
    Piopiy's published text; the collection assumes C(POST /release-phone-number) with C({"number"}). An API without
    it answers 404, 405 or 501, and the task then fails saying so, releases nothing, and searching, buying and listing
    numbers still work.
  - Choose numbers with M(piopiy.voice.piopiy_available_number_info), then pin them in the inventory (the two-step
    flow of C(playbooks/buy_numbers.yml)). The task buys exactly the listed numbers, never "any N numbers".
author:
  - piopiy.voice maintainers (@piopiy-voice)
options:
  phone_numbers:
    description:
      - The numbers, each in E.164 form, V(+) and 8 to 15 digits. Spaces, dashes, dots and brackets are removed first.
      - Every number is checked before the first request; a bad or repeated number fails the task, naming it.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) buys every listed number the workspace has not purchased.
      - V(absent) releases every listed number the workspace has purchased.
    type: str
    choices: [present, absent]
    default: present
  max_purchases:
    description:
      - The most numbers this task may buy. A task that would buy more fails before its first write, in check mode
        too, listing the numbers it would buy and the setting to raise.
      - The default V(0) buys nothing, so a task only spends money when told how much.
    type: int
    default: 0
  confirm_release:
    description:
      - The numbers this task may release, named one by one. With O(state=absent), a number to release that is not
        named here fails the task before its first write, naming it.
    type: list
    elements: str
    default: []
  unroute_first:
    description:
      - With O(state=absent), remove the route of a number to release that routes to an agent, then release it.
        The release of such a number waits for its unmap, and is not sent when the unmap fails.
      - Without it, a number that routes to an agent is refused, naming the agent, and nothing is released.
      - Route removals count against O(max_route_changes).
    type: bool
    default: false
  protected_numbers:
    description:
      - Numbers this task may not release (nor unroute), unless O(allow_protected_changes) is set.
      - Set it once for a play with C(module_defaults), for example the numbers of a production hotline.
    type: list
    elements: str
    default: []
  allow_protected_changes:
    description:
      - Allow this task to release (and with O(unroute_first), unroute) the O(protected_numbers) it lists.
    type: bool
    default: false
  max_route_changes:
    description:
      - The most routes O(unroute_first) may remove in this task. Not set, there is no limit.
    type: int
  parallel_requests:
    description:
      - How many writes are sent at once, from 1 to 64.
    type: int
    default: 8
notes:
  - The release call's shape is an assumption of the collection (see the description); the other calls are
    published by Piopiy.
  - The purchased numbers are read once per task, whatever the number of numbers; a release also reads the routes.
seealso:
  - module: piopiy.voice.piopiy_available_number_info
    description: Search the numbers for sale, to choose which to pin.
  - module: piopiy.voice.piopiy_agent
    description: Route the numbers to an agent once they are purchased.
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
- name: Buy the two numbers of the new environment (at most two)
  piopiy.voice.piopiy_phone_number:
    phone_numbers:
      - "+19499810000"
      - "+19499810001"
    max_purchases: 2

- name: Release a number that no agent uses any more
  piopiy.voice.piopiy_phone_number:
    phone_numbers: ["+19499810001"]
    state: absent
    confirm_release: ["+19499810001"]

- name: Release a number that still routes to an agent, removing its route first
  piopiy.voice.piopiy_phone_number:
    phone_numbers: ["+19499810000"]
    state: absent
    confirm_release: ["+19499810000"]
    unroute_first: true

- name: Dry run with the numbers of an inventory, to review what would be bought
  piopiy.voice.piopiy_phone_number:
    phone_numbers: "{{ support_agent_phone_numbers }}"
    max_purchases: 3
  check_mode: true
  diff: true
  register: would_buy
"""

RETURN = r"""
phone_numbers:
  description:
    - Every listed number after the task (in check mode, as it would be), in the order listed.
  returned: always
  type: list
  elements: dict
  contains:
    phone_number:
      description: The number, in E.164 form.
      type: str
      sample: "+19499810000"
    id:
      description: The API's id of a purchased number; null for a number not purchased, or bought in check mode.
      type: str
      sample: num_8h3k1
    status:
      description: C(purchased) or C(not purchased).
      type: str
      sample: purchased
    agent_id:
      description: The agent the number routes to, null without a route. Only with O(state=absent), which reads the routes.
      type: str
      returned: with O(state=absent)
bought:
  description: The numbers bought by this task (in check mode, that it would buy).
  returned: always
  type: list
  elements: str
  sample: ["+19499810000"]
released:
  description: The numbers released by this task (in check mode, that it would release).
  returned: always
  type: list
  elements: str
operations:
  description:
    - What the task did, or in check mode would do; one item per write. The audit trail and the plan report are built
      from it.
    - C(op=buy) and C(op=release) have C(resource=phone_number); an unmap of O(unroute_first) has C(resource=route).
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: The operation.
      type: str
      choices: [buy, release, unmap]
    resource:
      description: C(phone_number), or C(route) for an unmap.
      type: str
    phone_number:
      description: The number.
      type: str
    id:
      description: The API's id of the number; null for a buy in check mode.
      type: str
    before:
      description: The number (or route) before the operation; null before a buy.
      type: dict
    after:
      description: The number after the operation; null after a release or an unmap.
      type: dict
msg:
  description: What failed and how to fix it. After a write that did not go through, which changes were applied and which not.
  returned: on failure
  type: str
problems:
  description:
    - Every problem that stopped the task before its first write, one message each; RV(msg) joins them.
    - Over budget, unconfirmed, routed or protected releases name every number concerned and the setting to change.
  returned: on failure, before any write
  type: list
  elements: str
  sample: ["the task would buy 2 number(s), more than max_purchases=0: +19499810000, +19499810001. Nothing was bought: ..."]
numbers:
  description: The numbers the task would buy or release, when a guard stopped it.
  returned: on failure, when a guard stopped the task
  type: list
  elements: str
  sample: ["+19499810000"]
status:
  description: The HTTP status of the API answer that failed the task; null when no answer came (a lost connection).
  returned: on failure from an API call
  type: int
  sample: 409
error_code:
  description: The API's error code of that answer, such as C(conflict) for a number no longer for sale.
  returned: on failure from an API call
  type: str
  sample: conflict
request_id:
  description: The API's id of that request (its C(X-Request-Id) header), to quote to Piopiy support.
  returned: on failure from an API call
  type: str
  sample: req_5f2c9a1b7d3e4f60
"""

from ansible_collections.piopiy.voice.plugins.module_utils.task_module import GUARD_RAILS_SPEC, PARALLEL_REQUESTS_SPEC, run_module
from ansible_collections.piopiy.voice.plugins.module_utils.task_phone_number import PhoneNumberTask

ARGUMENT_SPEC = dict(
    phone_numbers=dict(type='list', elements='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    max_purchases=dict(type='int', default=0),
    confirm_release=dict(type='list', elements='str', default=[]),
    unroute_first=dict(type='bool', default=False),
    parallel_requests=PARALLEL_REQUESTS_SPEC,
    **GUARD_RAILS_SPEC
)


def main():
    run_module(ARGUMENT_SPEC, PhoneNumberTask)


if __name__ == '__main__':
    main()
