# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filters of playbooks/support_agent.yml: an inventory's environments checked together and grouped by workspace.

support_agent_fleet: every environment's variables read once, every inventory-level check (the role's checks of each
environment, and the conflicts between environments), the environments grouped by workspace for piopiy_fleet, and who
rotates. fleet_workspaces: the grouping alone (kept for one release; playbooks/fleet.yml used it). fleet_summary: one
line per environment from the fleet task's results, and fleet_totals: their counts. claimed_numbers: the numbers two
hosts of a play list, for the role.

In Python rather than Jinja: over hundreds of hosts, building each environment's dictionary in a template, then its
JSON and the JSON read back, cost more than the module run they prepare.
"""

from __future__ import annotations

import hashlib
import os
import re

from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable
from ansible.module_utils.common.text.converters import to_bytes
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.piopiy.voice.plugins.filter.guard import unknown_variables

AGENT_NAME_SUFFIX = '-support-agent'  # as the support_agent role names an environment's agent
WORKSPACE_DIGEST_CHARS = 16
ENVIRONMENT_NAME = re.compile(r'^[a-z][a-z0-9-]{0,30}$')
ROLE_PREFIX = 'support_agent_'
# Registered results and the role's own task variables are internal, as in the role's checks.yml.
INTERNAL_PREFIXES = ('support_agent_result_', 'support_agent__')
ROLE_SPECS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                          'roles', 'support_agent', 'meta', 'argument_specs.yml')
STATES = ('present', 'absent')
# The environment items of fleet_workspaces, as before support_agent_fleet added state and token files.
FLEET_WORKSPACES_KEYS = ('environment', 'name', 'language', 'phone_numbers', 'exclusive', 'max_route_changes', 'allow_protected_changes')
_ROLE_OPTIONS = []  # the role's options, read once per process


def _var(facts, name, default):
    """A host's variable as `facts.name | default(default)` reads it: the default when it is not defined or its template is not."""
    try:
        return facts[name] if name in facts else default
    except AnsibleUndefinedVariable:
        return default


class HostView(dict):
    """A host's variables, each templated once however often it is read: hostvars templates a variable on every read,
    and templating (such as the shipped inventory's API key lookup) is most of the cost of reading an inventory."""

    def __init__(self, facts):
        super().__init__()
        self.facts = facts

    def __contains__(self, name):
        return name in self.facts

    def __iter__(self):
        return iter(self.facts)

    def __getitem__(self, name):
        if not dict.__contains__(self, name):
            dict.__setitem__(self, name, self.facts[name])
        return dict.__getitem__(self, name)


def role_options():
    """The options of the support_agent role, from its meta/argument_specs.yml (one source of truth with ansible-doc)."""
    if not _ROLE_OPTIONS:
        import yaml  # a dependency of ansible-core; imported here, as only this filter needs it

        # libyaml's loader when PyYAML has it (as ansible-core's own loader does): the pure Python one takes 0.3 s on this file.
        loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
        with open(ROLE_SPECS) as handle:
            _ROLE_OPTIONS.extend(yaml.load(handle, Loader=loader)['argument_specs']['main']['options'])
    return list(_ROLE_OPTIONS)


def _workspace_of(facts):
    """A workspace's key in the grouping: a digest of the API key (never the key) and the API base."""
    key = to_bytes(_var(facts, 'support_agent_api_key', ''), nonstring='simplerepr')
    # https://api.piopiy.com/v1/ and https://api.piopiy.com/v1 are one API root (the client joins paths to either alike).
    base = str(_var(facts, 'support_agent_api_base', None) or '').rstrip('/')
    return '%s %s' % (hashlib.sha256(key).hexdigest()[:WORKSPACE_DIGEST_CHARS], base)


# The role's boolean variables that the fleet reads: each must be true or false (or a spelling Ansible reads as one).
BOOLEAN_VARIABLES = ('support_agent_exclusive', 'support_agent_allow_protected_changes', 'support_agent_allow_empty',
                     'support_agent_buy_missing_numbers')

# The piopiy_fleet environments[] options that support_agent_fleet leaves out when they hold the module's default: each
# value of a thousand environments is templated again as the fleet task's argument, and most hold the default.
MODULE_DEFAULTS = {'language': None, 'exclusive': True, 'max_route_changes': None, 'allow_protected_changes': None, 'token_file': None,
                   'token_file_format': 'token', 'token_env_names': None}


def _compact(environment):
    """The environment without the options that hold piopiy_fleet's default (environment, name, state and numbers stay)."""
    return dict((key, value) for key, value in environment.items() if key not in MODULE_DEFAULTS or value != MODULE_DEFAULTS[key])


def _environment(host, facts, state, numbers):
    """The piopiy_fleet environments[] item of a host, with its guard rails and where the token of a new agent goes."""
    return {
        'environment': host,
        'name': _var(facts, 'support_agent_name', host + AGENT_NAME_SUFFIX),
        'state': state,
        'language': _var(facts, 'support_agent_language', None),
        'phone_numbers': numbers,
        'exclusive': boolean(_var(facts, 'support_agent_exclusive', True), strict=False),
        'max_route_changes': _var(facts, 'support_agent_max_route_changes', None),
        'allow_protected_changes': _var(facts, 'support_agent_allow_protected_changes', None),
        'token_file': _var(facts, 'support_agent_token_file', None),
        'token_file_format': _var(facts, 'support_agent_token_file_format', 'token'),
        'token_env_names': _var(facts, 'support_agent_token_env_names', None),
    }


def _key_problem(host, facts):
    """The role's api_key.yml check: a support_agent_api_key that is defined but empty, naming every source that held no key."""
    if 'support_agent_api_key' not in facts:
        return None
    key = _var(facts, 'support_agent_api_key', '')
    if key is not None and str(key).strip():
        return None
    sources = ['PIOPIY_%s_API_KEY' % host.upper().replace('-', '_'), 'PIOPIY_API_KEY']
    return ('No API key for the environment %s. Empty or unset: %s. Fix: export %s, or PIOPIY_API_KEY for every environment (the '
            'shipped inventory reads them in that order), or set support_agent_api_key (keep it in Ansible Vault)'
            % (host, ', '.join(['support_agent_api_key'] + [name for name in sources if not os.environ.get(name)]), sources[0]))


def _numbers_problem(host, facts, name):
    """The role's check that a missing, misspelt or empty support_agent_phone_numbers never unmaps every number."""
    if 'support_agent_phone_numbers' not in facts:
        return '%s: support_agent_phone_numbers is not set' % host
    numbers = _var(facts, 'support_agent_phone_numbers', None)
    if numbers is None or isinstance(numbers, (str, dict)):
        return '%s: support_agent_phone_numbers must be a list of phone numbers, got %r' % (host, numbers)
    if numbers or not boolean(_var(facts, 'support_agent_exclusive', True), strict=False) \
            or boolean(_var(facts, 'support_agent_allow_empty', False), strict=False):
        return None
    return '%s: support_agent_phone_numbers is empty, which unmaps every number of %s' % (host, name)


NUMBERS_FIX = ("List the environment's numbers in support_agent_phone_numbers; to remove them all on purpose, set it to [] "
               "and support_agent_allow_empty to true")


class Inventory:
    """Every environment of the play read once: its problems, its workspace, whether it rotates or is removed."""

    def __init__(self, teardown=False):
        self.teardown = teardown
        self.problems = []
        self.workspaces = {}
        self.bases = {}  # workspace -> the api_base of its first environment (None: PIOPIY_API_BASE), for its label
        self.rotating = []
        self.buying = []
        self.removing = []
        self.claims = {}  # number -> environments that list it
        self.names = {}  # (workspace, agent name) -> environments that name it
        self.token_files = {}  # support_agent_token_file -> environments that keep their agent's credentials there
        self.run_caps = {}  # repr of support_agent_max_route_changes_per_run (None: unset) -> environments that see it
        self.run_cap_problems = []  # why a value of support_agent_max_route_changes_per_run is not a cap, once per value

    def add(self, host, facts, options):
        from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import parse_phone_numbers

        problems = []
        if not ENVIRONMENT_NAME.match(host):
            problems.append('environment %s is not a valid environment name: name the inventory host with lower case letters, '
                            'digits and dashes, starting with a letter, at most 31 characters (for example dev, staging, prod)'
                            % _quoted(host))
        problem = _key_problem(host, facts)
        if problem:
            problems.append(problem)
        unknown = unknown_variables([name for name in facts if str(name).startswith(ROLE_PREFIX)], options, INTERNAL_PREFIXES)
        if unknown:
            problems.append('unknown variable(s) for the support_agent role in %s: %s. Fix the name, or remove the variable; the '
                            'options are listed by ansible-doc -t role piopiy.voice.support_agent' % (host, ', '.join(unknown)))
        state = 'absent' if self.teardown else _var(facts, 'support_agent_state', 'present')
        name = _var(facts, 'support_agent_name', host + AGENT_NAME_SUFFIX)
        problem = _cap_problem(host, _var(facts, 'support_agent_max_route_changes', None))
        if problem:
            problems.append(problem)
        problems.extend(_value_problems(host, facts))
        run_cap = _var(facts, 'support_agent_max_route_changes_per_run', None)
        if repr(run_cap) not in self.run_caps:
            self.run_cap_problems.append(_cap_problem(None, run_cap, 'support_agent_max_route_changes_per_run'))
        self.run_caps.setdefault(repr(run_cap), []).append(host)
        numbers = []
        if state not in STATES:
            problems.append('%s: support_agent_state must be present or absent, got %r' % (host, state))
        elif state == 'present':
            problem = _numbers_problem(host, facts, name)
            if problem:
                problems.append('%s. %s' % (problem, NUMBERS_FIX))
            else:
                numbers, number_problems = parse_phone_numbers('%s: support_agent_phone_numbers' % host,
                                                               _var(facts, 'support_agent_phone_numbers', []))
                problems.extend(number_problems)
            rotate = _var(facts, 'support_agent_rotate', 'never')
            if rotate != 'never':
                if not _var(facts, 'support_agent_token_file', None):
                    problems.append('%s: support_agent_rotate=%s needs support_agent_token_file, where the new agent\'s credentials are '
                                    'stored before any number moves to it' % (host, rotate))
                self.rotating.append(host)
            if boolean(_var(facts, 'support_agent_buy_missing_numbers', False), strict=False) and numbers:
                self.buying.append(host)
        else:
            self.removing.append(host)
        self.problems.extend(problems)
        workspace = _workspace_of(facts)
        self._record_claims(host, workspace, name, numbers, _var(facts, 'support_agent_token_file', None) if state == 'present' else None)
        if workspace not in self.workspaces:
            self.bases[workspace] = _var(facts, 'support_agent_api_base', None)
        group = self.workspaces.setdefault(workspace, {'host': host, 'environments': [], 'protected_numbers': []})
        group['environments'].append(_compact(_environment(host, facts, state, numbers)))
        # Protection is of the workspace's numbers: a number one environment protects, no environment may move unasked.
        group['protected_numbers'].extend(number for number in _var(facts, 'support_agent_protected_numbers', None) or []
                                          if number not in group['protected_numbers'])

    def claim(self, host, facts):
        """The numbers and agent name of an environment the run does not apply (outside --limit): they count in the
        conflicts of the environments it applies, so that a limited run never takes another environment's number."""
        from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import parse_phone_numbers

        numbers = []
        if ('absent' if self.teardown else _var(facts, 'support_agent_state', 'present')) == 'present':
            numbers, unused = parse_phone_numbers('', _var(facts, 'support_agent_phone_numbers', None) or [])
        workspace = _workspace_of(facts)
        # Its token file is not claimed: this run writes none for it, and `--limit staging -e support_agent_token_file=...`
        # gives every environment, left out or not, the one file.
        self._record_claims(host, workspace, _var(facts, 'support_agent_name', host + AGENT_NAME_SUFFIX), numbers, None)
        group = self.workspaces.get(workspace)
        if group is not None:
            # Its numbers and the numbers it protects hold in the workspace's plan too: applied apart, the environments
            # of the run would unmap a number it lists, or move one it protects.
            group.setdefault('numbers_listed_elsewhere', {}).update(dict.fromkeys(numbers, host))
            group['protected_numbers'].extend(number for number in _var(facts, 'support_agent_protected_numbers', None) or []
                                              if number not in group['protected_numbers'])

    def _record_claims(self, host, workspace, name, numbers, token_file):
        """The numbers, the agent name (in its workspace) and the token file that an environment claims, for the conflicts."""
        for number in numbers:
            self.claims.setdefault(number, []).append(host)
        self.names.setdefault((workspace, name), []).append(host)
        if token_file:
            self.token_files.setdefault(str(token_file), []).append(host)

    def conflicts(self):
        """Two environments that claim one number, or (in one workspace) one agent: each would undo the other on every run."""
        problems = ['number %s is listed by %d environments (%s): a number routes to one agent; list it in one environment'
                    % (number, len(owners), ', '.join(owners)) for number, owners in sorted(self.claims.items()) if len(owners) > 1]
        problems.extend('agent name %r is used by %d environments (%s) of one workspace: they would share one agent and fight over '
                        'its numbers; give each environment its own support_agent_name' % (name, len(owners), ', '.join(owners))
                        for (unused, name), owners in sorted(self.names.items()) if len(owners) > 1)
        problems.extend('support_agent_token_file %s is used by %d environments (%s): each would overwrite the credentials of '
                        'the other\'s agent; give each environment its own file' % (path, len(owners), ', '.join(owners))
                        for path, owners in sorted(self.token_files.items()) if len(owners) > 1)
        problems.extend(problem for problem in self.run_cap_problems if problem)
        if len(self.run_caps) > 1:
            # The run's cap is read once for the whole run: set for some environments only, it would be kept or ignored by chance.
            problems.append('support_agent_max_route_changes_per_run differs between environments (%s): it caps the whole run, so '
                            'set it once, in group_vars of piopiy_environments or with -e, not in host_vars'
                            % '; '.join('%s: %s' % (', '.join(hosts), 'unset' if value == 'None' else value)
                                        for value, hosts in sorted(self.run_caps.items())))
        return problems

    def result(self):
        return {
            'problems': self.problems + self.conflicts(),
            'workspaces': [self.workspaces[workspace] for workspace in sorted(self.workspaces)],
            # The fleet task's loop labels: a label that templated the workspace would read its thousand environments again.
            'labels': ['%s: %d environment(s)' % (self.bases[workspace] or 'PIOPIY_API_BASE', len(self.workspaces[workspace]['environments']))
                       for workspace in sorted(self.workspaces)],
            'rotating': self.rotating,
            'buying': self.buying,
            'removing': self.removing,
        }


def _cap_problem(host, cap, variable='support_agent_max_route_changes'):
    """Why an environment's support_agent_max_route_changes (or the run's cap) is not a cap (a whole number, 0 or more), or None."""
    if cap is None:
        return None
    try:
        valid = not isinstance(cap, bool) and int(str(cap).strip()) >= 0
    except ValueError:
        valid = False
    if valid:
        return None
    return ('%s%s must be a whole number of route changes, 0 or more, got %r: fix it, or leave it out for no cap'
            % ('%s: ' % host if host else '', variable, cap))


def _value_problems(host, facts):
    """The role variables of an environment whose value the fleet would misread: a boolean that is neither true nor false
    ("ture" would read as false, and make the environment keep numbers it no longer lists), a language that is not a
    tag, a token file format that is not one. Checked here, so that the message names the environment and the variable."""
    from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import language_problem

    problems = []
    for variable in BOOLEAN_VARIABLES:
        value = _var(facts, variable, None)
        if value is None:
            continue
        try:
            boolean(value, strict=True)
        except TypeError:
            problems.append('%s: %s must be true or false, got %r' % (host, variable, value))
    language = _var(facts, 'support_agent_language', None)
    problem = language_problem(str(language)) if language is not None else None
    if problem:
        problems.append('%s: support_agent_%s' % (host, problem))
    file_format = _var(facts, 'support_agent_token_file_format', 'token')
    if file_format not in ('token', 'env'):
        problems.append('%s: support_agent_token_file_format must be token or env, got %r' % (host, file_format))
    return problems


def _quoted(text):
    return '"%s"' % str(text).replace('"', '\\"')


def support_agent_fleet(hosts, hostvars, teardown=False, inventory_hosts=None):
    """Every environment of the hosts checked, alone and together, and grouped by workspace for piopiy_fleet.

    Returns {'problems', 'workspaces', 'labels', 'rotating', 'buying', 'removing'}: every problem of every environment, each naming
    it; the workspaces as fleet_workspaces gives them (environments with their state and token file), and a label for each
    (its API base and how many environments); the hosts whose credentials
    rotate (support_agent_rotate is not never), and those to be removed. teardown: every host is to be removed. Each
    host's variables are read once; the API key is never returned. inventory_hosts: every environment of the inventory;
    those not among hosts (outside --limit) are not applied, but their numbers and agent names count in the conflicts.
    """
    inventory = Inventory(boolean(teardown, strict=False))
    options = role_options()
    for host in hosts:
        inventory.add(host, HostView(hostvars[host]), options)
    applied = set(hosts)
    for host in inventory_hosts or []:
        if host not in applied:
            inventory.claim(host, HostView(hostvars[host]))
    return inventory.result()


def fleet_workspaces(hosts, hostvars):
    """The environments of the hosts, grouped by workspace (API key and base); a host that is not to be present fails it, named.

    Returns [{'host', 'environments', 'protected_numbers'}]: a workspace's host is its first environment's, whose
    support_agent_api_key and support_agent_api_base the fleet task uses; its environments are the module's environments
    option (with each environment's guard rails), and its protected numbers those of all its environments. A workspace is
    told by a digest of its key, so the key itself is never returned. Workspaces are in the order of their digests,
    environments in the order of the hosts. Unlike support_agent_fleet, it checks nothing.
    """
    workspaces, absent = {}, []
    for host in hosts:
        facts = HostView(hostvars[host])
        if _var(facts, 'support_agent_state', 'present') != 'present':
            absent.append(host)
        group = workspaces.setdefault(_workspace_of(facts), {'host': host, 'environments': [], 'protected_numbers': []})
        environment = _environment(host, facts, 'present', _var(facts, 'support_agent_phone_numbers', []))
        group['environments'].append(dict((key, environment[key]) for key in FLEET_WORKSPACES_KEYS))
        group['protected_numbers'].extend(number for number in _var(facts, 'support_agent_protected_numbers', None) or []
                                          if number not in group['protected_numbers'])
    if absent:
        raise AnsibleFilterError('the fleet applies environments to be present only, and %s set support_agent_state: absent; remove them '
                                 'with playbooks/support_agent.yml and -e confirm=%s, or set them present' % (', '.join(absent), ','.join(absent)))
    return [workspaces[workspace] for workspace in sorted(workspaces)]


def fleet_summary(results, limit=0):
    """One line per environment from a list of fleet task results (a loop's, or [result]): its agent, its numbers, and its writes when it changed.

    limit: at most this many lines (0: every environment), the changed environments first, so that a run over a thousand
    environments prints what it did rather than a thousand lines; fleet_totals says how many there are. Only the
    environments shown are read beyond their `changed`: each read of a registered result is templated again.
    """
    limit = _summary_limit(limit)
    environments = list(_environments_of(results))
    if limit:
        changed = [item for item in environments if item[1]['changed']]
        environments = (changed + [item for item in environments if not item[1]['changed']])[:limit]
    return dict((name, _summary_line(environment)) for name, environment in environments)


def _summary_line(environment):
    agent = environment.get('agent') or {}
    writes = ', changed: %d write(s)' % environment['writes'] if environment['changed'] else ''
    if environment.get('state') == 'absent':
        return '%s absent%s' % (environment.get('agent_name') or agent.get('name'), writes)
    return '%s (%s) with %d number(s)%s' % (agent['name'], agent['id'], len(environment['phone_numbers']), writes)


def fleet_totals(results, limit=0):
    """One line that counts the environments, the changed ones and their writes, and says when fleet_summary(limit) left
    some out."""
    limit = _summary_limit(limit)
    environments = [environment for unused, environment in _environments_of(results)]
    changed = [environment for environment in environments if environment['changed']]
    line = '%d environment(s), %d changed with %d write(s)' % (len(environments), len(changed),
                                                               sum(environment['writes'] for environment in changed))
    if limit and len(environments) > limit:
        line += ('; %d shown, the changed ones first (support_agent_summary_limit=%d; 0 shows every one)'
                 % (limit, limit))
    return line


def _summary_limit(limit):
    limit = int(limit or 0)
    if limit < 0:
        raise AnsibleFilterError('the summary limit must be 0 (every environment) or more, got %d' % limit)
    return limit


def _environments_of(results):
    """(name, result) of every environment of a list of fleet task results (the module's key is the environment's name)."""
    for result in results:
        for name, environment in (result.get('environments') or {}).items():
            yield name, environment


def shared_workspaces(results):
    """One message per workspace that the results of piopiy_fleet tasks with different API keys reached together.

    The playbook groups environments by API key and base, as no API call says which workspace a key reaches; agent ids
    are the API's own, so two results with one workspace.lowest_agent_id read one workspace. A workspace without any
    agent cannot be told apart, and is left alone.
    """
    groups = {}
    for result in results:
        lowest = (result.get('workspace') or {}).get('lowest_agent_id')
        if lowest:
            groups.setdefault(lowest, []).append(sorted(result.get('environments') or {}))
    return ['the API keys of environments %s reach one workspace (each lists its agents), so each key\'s environments would '
            'be checked without the others (one agent per name, protected numbers, removals). Nothing was changed in any '
            'environment: give every environment of a workspace the same support_agent_api_key'
            % ' and '.join('[%s]' % ', '.join(names) for names in sorted(keys))
            for unused, keys in sorted(groups.items()) if len(keys) > 1]


def claimed_numbers(hosts, hostvars):
    """The numbers listed by more than one host of a play that applies the support_agent role, one message each.

    A host's claim is the support_agent__claim fact the role's checks set ({environment, phone_numbers}), else, for a
    host that has not run them yet (a later batch of a serial play), its support_agent_phone_numbers; an absent one claims
    nothing. Numbers are compared in E.164 (spaces, dashes, dots and brackets removed); a malformed one is left to the module.
    """
    from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import parse_phone_numbers

    owners = {}
    for host in hosts:
        facts = hostvars[host]
        claim = _var(facts, 'support_agent__claim', None)
        if claim is None:
            listed = _var(facts, 'support_agent_phone_numbers', []) if _var(facts, 'support_agent_state', 'present') == 'present' else []
            claim = {'environment': host, 'phone_numbers': listed}
        numbers, unused = parse_phone_numbers('', claim.get('phone_numbers') or [])
        for number in numbers:
            owners.setdefault(number, []).append(claim['environment'])
    return ['number %s is listed by %d environments (%s): a number routes to one agent; list it in one environment'
            % (number, len(environments), ', '.join(environments)) for number, environments in sorted(owners.items()) if len(environments) > 1]


class FilterModule:
    def filters(self):
        return {'support_agent_fleet': support_agent_fleet, 'fleet_workspaces': fleet_workspaces, 'fleet_summary': fleet_summary,
                'fleet_totals': fleet_totals, 'claimed_numbers': claimed_numbers, 'shared_workspaces': shared_workspaces}
