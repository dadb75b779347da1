# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet_workspaces and fleet_summary filters of playbooks/fleet.yml: an inventory's environments grouped by workspace, and one line each.

In Python rather than Jinja: over hundreds of hosts, building each environment's dictionary in a template, then its
JSON and the JSON read back, cost more than the module run they prepare.
"""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable
from ansible.module_utils.common.text.converters import to_bytes
from ansible.module_utils.parsing.convert_bool import boolean

AGENT_NAME_SUFFIX = '-support-agent'  # as the support_agent role names an environment's agent
WORKSPACE_DIGEST_CHARS = 16


def _var(facts, name, default):
    """A host's variable as `facts.name | default(default)` reads it: the default when it is not defined or its template is not."""
    try:
        return facts[name] if name in facts else default
    except AnsibleUndefinedVariable:
        return default


def fleet_workspaces(hosts, hostvars):
    """The environments of the hosts, grouped by workspace (API key and base); a host that is not to be present fails it, named.

    Returns [{'host', 'environments', 'protected_numbers'}]: a workspace's host is its first environment's, whose
    support_agent_api_key and support_agent_api_base the fleet task uses; its environments are the module's environments
    option (with each environment's guard rails), and its protected numbers those of all its environments. A workspace is
    told by a digest of its key, so the key itself is never returned. Workspaces are in the order of their digests,
    environments in the order of the hosts.
    """
    workspaces, absent = {}, []
    for host in hosts:
        facts = hostvars[host]
        key = to_bytes(_var(facts, 'support_agent_api_key', ''), nonstring='simplerepr')
        workspace = '%s %s' % (hashlib.sha256(key).hexdigest()[:WORKSPACE_DIGEST_CHARS], _var(facts, 'support_agent_api_base', ''))
        if _var(facts, 'support_agent_state', 'present') != 'present':
            absent.append(host)
        name = _var(facts, 'support_agent_name', host + AGENT_NAME_SUFFIX)
        group = workspaces.setdefault(workspace, {'host': host, 'environments': [], 'protected_numbers': []})
        group['environments'].append({
            'environment': host,
            'name': name,
            'language': _var(facts, 'support_agent_language', None),
            'phone_numbers': _var(facts, 'support_agent_phone_numbers', []),
            'exclusive': boolean(_var(facts, 'support_agent_exclusive', True), strict=False),
            'max_route_changes': _var(facts, 'support_agent_max_route_changes', None),
            'allow_protected_changes': _var(facts, 'support_agent_allow_protected_changes', None),
        })
        # Protection is of the workspace's numbers: a number one environment protects, no environment may move unasked.
        group['protected_numbers'].extend(number for number in _var(facts, 'support_agent_protected_numbers', None) or []
                                          if number not in group['protected_numbers'])
    if absent:
        raise AnsibleFilterError('the fleet applies environments to be present only, and %s set support_agent_state: absent; remove them '
                                 'with playbooks/support_agent.yml --limit %s, or set them present' % (', '.join(absent), ','.join(absent)))
    return [workspaces[workspace] for workspace in sorted(workspaces)]


def fleet_summary(results):
    """One line per environment from the fleet task's loop results: its agent, its numbers, and its writes when it changed."""
    lines = {}
    for result in results:
        for name, environment in (result.get('environments') or {}).items():
            agent = environment['agent']
            lines[name] = '%s (%s) with %d number(s)%s' % (agent['name'], agent['id'], len(environment['phone_numbers']),
                                                           ', changed: %d write(s)' % len(environment['operations'])
                                                           if environment['changed'] else '')
    return lines


class FilterModule:
    def filters(self):
        return {'fleet_workspaces': fleet_workspaces, 'fleet_summary': fleet_summary}
