# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options and attributes shared by every piopiy.voice module."""

    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - API key of the Piopiy workspace, sent as a bearer token.
      - A key belongs to one workspace and sees only that workspace's agents, routes and numbers.
      - If not set, the value of the E(PIOPIY_API_KEY) environment variable is used. One of the two is required;
        an empty value fails the task, naming the source that was empty.
      - The key is never shown in output, diffs or error messages.
    type: str
  api_base:
    description:
      - Base URL of the Piopiy API, including the version path.
      - If not set, the value of the E(PIOPIY_API_BASE) environment variable is used.
      - Point it at the local emulator (C(tests/emulator)) to try playbooks offline.
    type: str
    default: https://api.piopiy.com/v1
  timeout:
    description:
      - Seconds to wait for each API request before giving up on it.
    type: float
    default: 30
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_base).
      - Only set to V(false) for a test endpoint you control.
    type: bool
    default: true
  api_profile:
    description:
      - Which calls the API at O(api_base) has. Piopiy publishes create, list and delete an agent, map a number and list
        purchased numbers; the collection can also use five calls that are not published (read one agent, update an agent,
        list routes, read one route, delete a route), which a live account may not have.
      - V(auto) tries them and learns on first contact which ones the API lacks (a 404 on a list, or a 404, 405 or 501 on an
        object that the list has); every task of the run then stops asking for them, through a small cache file beside the
        lock files (call names only, for an hour).
      - V(published) never sends an unpublished call; V(extended) always sends them, as on an API known to have them.
      - What each feature does on the published calls alone is in the collection's C(docs/piopiy-api.md). A missing call is
        reported by its name (in the result's C(missing_call)), never as a wrong O(api_base).
      - If not set, the value of the E(PIOPIY_API_PROFILE) environment variable is used.
    type: str
    choices: [auto, published, extended]
    default: auto
    version_added: 0.2.0
requirements:
  - Python 3.9 or later where the module runs; no library beyond its standard library.
notes:
  - Set the connection options once for every module of the collection with
    C(module_defaults) and the action group C(group/piopiy.voice.piopiy).
  - Requests that fail with 429, 500, 502, 503, 504 or a connection error are retried with
    jittered exponential back-off, honouring C(Retry-After), within one budget of five attempts per request.
    A create is only sent again when the API certainly did not apply it (a read-back after a lost answer
    finds nothing), so a retry never makes a duplicate.
  - An answer with a 2xx status that is not the API's JSON (an empty body where data is expected, an HTML page,
    a bare array) is never read as data. Redirects are not followed, so the key is never sent to another address.
"""

    GUARD_RAILS = r"""
options:
  max_route_changes:
    description:
      - The most route changes (numbers mapped, moved or unmapped) this task may make. A task whose plan has more
        fails before its first write, in check mode too, listing what it would have done.
      - Guards against a typo that would re-route every number at once. Not set, there is no limit.
    type: int
  protected_numbers:
    description:
      - Numbers that this task may not re-route to another agent or unroute, unless it lists them among its own phone
        numbers and sets O(allow_protected_changes). A task that would fails before its first write, naming them.
        Mapping a protected number that has no route yet is allowed.
      - Set it once for a play with C(module_defaults), for example the numbers of a production hotline.
    type: list
    elements: str
    default: []
  allow_protected_changes:
    description:
      - Allow this task to re-route or unroute the O(protected_numbers) that it lists itself.
    type: bool
    default: false
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/piopiy.voice.piopiy) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - piopiy.voice.piopiy
"""
