# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The guard filters of the support_agent role.

unknown_variables: variable names a role does not know, each with the known name it most resembles.
run_route_changes: the problem of a run whose environments together plan more route changes than a cap.
"""

from __future__ import annotations

import difflib
import os

from ansible.errors import AnsibleFilterError

# How alike (difflib's ratio, 0 to 1) the distinguishing part of an unknown name must be to a known one's to be suggested:
# a letter missing, doubled or swapped passes (langauge, phone_number); a different word does not (timeout for name).
CLOSE = 0.8


def unknown_variables(names, known, ignore_prefixes=()):
    """Sorted descriptions of the names that are neither known nor under an ignored prefix.

    A description is the name, plus "(did you mean X?)" when a known name is close, so that a typo such as
    support_agent_phone_number is caught with its fix.
    """
    known = sorted(set(known))
    unknown = sorted(set(name for name in names if name not in known and not str(name).startswith(tuple(ignore_prefixes))))
    described = []
    for name in unknown:
        close = closest(str(name), known)
        described.append('%s (did you mean %s?)' % (name, close) if close else name)
    return described


def closest(name, known):
    """The known name that name is a likely typo of, or None.

    Only the parts after the prefix that they all share count (support_agent_, up to its last underscore): compared whole,
    support_agent_timeout resembles support_agent_name by that prefix alone.
    """
    shared = os.path.commonprefix([name] + [str(candidate) for candidate in known])
    start = shared.rfind('_') + 1
    tails = dict((str(candidate)[start:], candidate) for candidate in known)
    close = difflib.get_close_matches(name[start:], list(tails), n=1, cutoff=CLOSE)
    return tails[close[0]] if close else None


def run_route_changes(operations_by_environment, max_changes, option='max_route_changes_per_run'):
    """The message of a run over the cap, or an empty string; see run_route_changes_problem."""
    if not isinstance(operations_by_environment, dict):
        raise AnsibleFilterError('run_route_changes expects {environment: operations}, got %s' % type(operations_by_environment).__name__)
    try:
        max_changes = int(max_changes)
    except (TypeError, ValueError):
        raise AnsibleFilterError('%s must be a whole number of route changes, got %r' % (option, max_changes))
    if max_changes < 0:
        raise AnsibleFilterError('%s must be 0 or more, got %d' % (option, max_changes))
    # Imported here, not at the top: resource_route brings the API client (0.1 s), and Ansible imports
    # every filter file of the collection in each task's worker that uses any piopiy.voice filter (fleet.yml's
    # fleet_workspaces and fleet_summary, the role's unknown_variables), though only this filter needs it.
    from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import run_route_changes_problem

    return run_route_changes_problem(operations_by_environment, max_changes, option) or ''


class FilterModule:
    def filters(self):
        return {'unknown_variables': unknown_variables, 'run_route_changes': run_route_changes}
