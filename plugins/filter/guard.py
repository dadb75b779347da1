# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The unknown_variables filter: variable names a role does not know, each with the known name it most resembles."""

from __future__ import annotations

import difflib


def unknown_variables(names, known, ignore_prefixes=()):
    """Sorted descriptions of the names that are neither known nor under an ignored prefix.

    A description is the name, plus "(did you mean X?)" when a known name is close, so that a typo such as
    support_agent_phone_number is caught with its fix.
    """
    known = sorted(set(known))
    unknown = sorted(set(name for name in names if name not in known and not str(name).startswith(tuple(ignore_prefixes))))
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        described.append('%s (did you mean %s?)' % (name, close[0]) if close else name)
    return described


class FilterModule:
    def filters(self):
        return {'unknown_variables': unknown_variables}
