# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the piopiy_available_number_info task: a search of the numbers for sale, which only reads."""

from __future__ import annotations

import re

from ansible_collections.piopiy.voice.plugins.module_utils.resource_phone_number import search_available
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import PiopiyTask, TaskReport

REGION = re.compile(r'^[A-Za-z]{2}$')
MAX_LIMIT = 1000


def search_problems(params):
    """Every problem of the search options, before anything is read."""
    problems = []
    if not REGION.match(params['region'] or ''):
        problems.append('region %r is not a region code: use two letters, such as US, GB or IN' % params['region'])
    if not 1 <= params['limit'] <= MAX_LIMIT:
        problems.append('limit must be between 1 and %d, got %d' % (MAX_LIMIT, params['limit']))
    if params['capability'] is not None and not params['capability'].strip():
        problems.append('capability is an empty string: give one such as voice or sms, or leave capability out')
    if params['cursor'] is not None and not params['cursor'].strip():
        problems.append('cursor is an empty string: give the next_cursor of an earlier search, or leave cursor out')
    return problems


class AvailableNumberTask(PiopiyTask):
    """The numbers for sale that match the search."""

    read_only = True

    def validate(self):
        return search_problems(self.params)

    def read(self, client, round_number):
        params = self.params
        return search_available(client, params['region'].upper(), params['capability'], params['limit'], params['cursor'])

    def result(self, loop):
        found = loop.first.state
        return TaskReport({'numbers': found.numbers, 'next_cursor': found.next_cursor, 'pages': found.pages})
