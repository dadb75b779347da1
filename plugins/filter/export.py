# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The export_inventory filter: a live workspace's agents and routes as an inventory for the support_agent role.

Pure functions of the info modules' return values, so the same workspace always gives the same bytes.
"""

from __future__ import annotations

import re
import unicodedata

from ansible.errors import AnsibleFilterError

ENVIRONMENT = re.compile(r'^[a-z][a-z0-9-]{0,30}$')
CONVENTION = re.compile(r'^(?P<environment>[a-z][a-z0-9-]{0,30})-support-agent$')
HOST_LENGTH = 31
GROUP = 'piopiy_environments'
REPORT = 'export-report.txt'
# The fewest consecutive numbers the report writes as one range.
RANGE_MINIMUM = 3


# ---- YAML text, written by hand so that the bytes never depend on a YAML library's version ----

def yaml_string(text):
    """A double-quoted YAML scalar; anything not printable is escaped, so no name can break the file."""
    escaped = []
    for character in text:
        if character in '"\\':
            escaped.append('\\' + character)
        elif character.isprintable() and character not in '\u2028\u2029\x85':
            escaped.append(character)
        elif ord(character) <= 0xFFFF:
            escaped.append('\\u%04x' % ord(character))
        else:
            escaped.append('\\U%08x' % ord(character))
    return '"%s"' % ''.join(escaped)


def yaml_value(text):
    """A value the API returned (a name, a language, a number), as YAML that Ansible reads back as written and never templates.

    Text that could hold a Jinja template ({{, {% or {#; % too, to be safe) is marked !unsafe; no other text can be
    templated. Only that text is marked, because from ansible-core 2.19 an !unsafe scalar takes the type its text
    would have unquoted: !unsafe "On" reads as true and !unsafe "+19499800001" as a number. Text with a brace or a
    percent sign never resembles a boolean, null, number or date, so the mark cannot change its type.
    """
    quoted = yaml_string(text)
    return '!unsafe ' + quoted if '{' in text or '%' in text else quoted


def comment_text(text):
    """Text safe inside a YAML or report comment: one line, printable."""
    return ''.join(character if character.isprintable() else '?' for character in text)


# ---- host names ----

def slug(name):
    """A host name made from an agent's name that the role accepts as an environment."""
    # Accents go (Déjà becomes deja) before anything else that is not a letter or digit becomes a dash.
    ascii_name = unicodedata.normalize('NFKD', name).encode('ascii', 'ignore').decode('ascii')
    text = re.sub(r'[^a-z0-9]+', '-', ascii_name.lower()).strip('-')
    if not text or not text[0].isalpha():
        text = ('agent-' + text).strip('-')
    return text[:HOST_LENGTH].rstrip('-')


def numbered(base, number):
    suffix = '-%d' % number
    return base[:HOST_LENGTH - len(suffix)].rstrip('-') + suffix


def assign_hosts(agents):
    """[(host, agent, conventional)] for agents with unique names, host names unique and deterministic.

    Agents named by the convention take their environment first; every other agent, in order of name then
    id, takes the slug of its name, or the slug with the first free -2, -3, ...
    """
    taken = set()
    assigned = []
    conventional = [agent for agent in agents if CONVENTION.match(agent['name'])]
    for agent in sorted(conventional, key=lambda agent: agent['name']):
        host = CONVENTION.match(agent['name']).group('environment')
        taken.add(host)
        assigned.append((host, agent, True))
    others = [agent for agent in agents if not CONVENTION.match(agent['name'])]
    for agent in sorted(others, key=lambda agent: (agent['name'], agent['id'])):
        base = slug(agent['name'])
        host, number = base, 1
        while host in taken:
            number += 1
            host = numbered(base, number)
        taken.add(host)
        assigned.append((host, agent, False))
    return sorted(assigned, key=lambda entry: entry[0])


# ---- the workspace, sorted into what the inventory can say and what only the report can ----

def numbers_by_agent(routes):
    grouped = {}
    for route in routes:
        if route.get('agent_id'):
            grouped.setdefault(route['agent_id'], []).append(route['phone_number'])
    return dict((agent_id, sorted(numbers)) for agent_id, numbers in grouped.items())


def left_out_reason(agent, name_count, numbers, purchased):
    """Why the role cannot reproduce this agent exactly, or None when it can."""
    name = agent.get('name')
    if not isinstance(name, str) or not name.strip():
        return 'it has no name, and the role finds agents by name'
    if name_count[name] > 1:
        return 'its name is shared by %d agents, and the role finds agents by name (rename all but one in the dashboard)' % name_count[name]
    unpurchased = [number for number in numbers if number not in purchased]
    if unpurchased:
        return 'it routes numbers the workspace has not purchased (%s), which the role cannot route' % ', '.join(unpurchased)
    return None


class Rotation:
    """A credential rotation in progress, as the export describes it: the environment as it will be once it is finished.

    name: the agent's name; successor: the successor agent, under the name it will have; replaced_id: the id of the
    agent it replaces (deleted already, or at the rotation's end).
    """

    def __init__(self, name, successor, replaced_id):
        self.name = name
        self.successor = successor
        self.replaced_id = replaced_id

    def note(self):
        return ('a credential rotation is in progress: agent %s will replace agent %s under the name %s; the inventory '
                'describes the environment as after the rotation, so finish it (support_agent_rotate=now) before the role '
                'runs on this inventory' % (self.successor['id'], self.replaced_id, comment_text(self.name)))


class Workspace:
    """The agents the export sees, every rotation in progress taken as finished.

    agents: each environment's agent once (a successor in place of the agent it replaces, under that agent's name);
    numbers: agent id -> its sorted numbers (a successor's together with those of the agent it replaces);
    rotations: agent id -> Rotation; left_out: [{'agent', 'reason', 'numbers'}] of the rotations that cannot go on.
    """

    def __init__(self, agents, numbers, rotations, left_out):
        self.agents = agents
        self.numbers = numbers
        self.rotations = rotations
        self.left_out = left_out


def rotating_names(agents):
    """The names of the agents with a successor, by the successor's name NAME--rotating-OLD."""
    # Imported here, not at the top: Ansible imports every filter file of the collection in each task's worker that uses any
    # piopiy.voice filter (the role's unknown_variables among them), and the rotation's module brings the API client.
    from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import SUCCESSOR_MARKER

    names = set()
    for agent in agents:
        name = agent.get('name')
        if isinstance(name, str) and SUCCESSOR_MARKER in name and name.partition(SUCCESSOR_MARKER)[0].strip():
            names.add(name.partition(SUCCESSOR_MARKER)[0])
    return sorted(names)


def finish_rotations(agents, numbers):
    """The Workspace as it will be after every rotation in progress; one that cannot go on leaves its agents out."""
    rotating = rotating_names(agents)
    if not rotating:
        return Workspace(agents, numbers, {}, [])
    from ansible_collections.piopiy.voice.plugins.module_utils.resource_rotation import read_rotation, successors_of

    numbers = dict(numbers)
    by_id = dict((agent['id'], agent) for agent in agents)
    replaced, rotations, left_out = set(), {}, []
    for name in rotating:
        involved = sorted(set(agent['id'] for agent in agents if agent.get('name') == name)
                          | set(agent['id'] for agent in successors_of(agents, name)))
        replaced.update(involved)
        state = read_rotation(agents, name)
        if state.problem:
            reason = 'a credential rotation of agent %s is in progress and cannot go on (%s)' % (comment_text(name), state.problem)
            left_out.extend({'agent': by_id[agent_id], 'reason': reason, 'numbers': numbers.get(agent_id, [])} for agent_id in involved)
            continue
        successor = dict(by_id[state.successor['id']], name=name)
        if state.canonical is not None:
            # Prepared: finishing moves every number of the old agent to the successor, which has the old one's language.
            old = by_id[state.canonical['id']]
            successor['language'] = old.get('language') or successor.get('language')
            numbers[successor['id']] = sorted(set(numbers.get(successor['id'], []) + numbers.get(old['id'], [])))
        rotations[successor['id']] = Rotation(name, successor, state.old_id)
    kept = [agent for agent in agents if agent['id'] not in replaced] + [rotation.successor for rotation in rotations.values()]
    return Workspace(kept, numbers, rotations, left_out)


def sort_workspace(agents, routes, purchased_numbers):
    """The agents the inventory expresses, those it leaves out (with why), and the routes and numbers only the report lists."""
    for agent in agents:
        if not isinstance(agent, dict) or not agent.get('id'):
            raise AnsibleFilterError('export_inventory: every agent needs an id, as piopiy_agent_info returns them; got %r' % (agent,))
    purchased = set(number['phone_number'] for number in purchased_numbers)
    workspace = finish_rotations(agents, numbers_by_agent(routes))
    numbers = workspace.numbers
    name_count = {}
    for agent in workspace.agents:
        name_count[agent.get('name')] = name_count.get(agent.get('name'), 0) + 1
    kept, left_out = [], list(workspace.left_out)
    for agent in workspace.agents:
        reason = left_out_reason(agent, name_count, numbers.get(agent['id'], []), purchased)
        if reason:
            left_out.append({'agent': agent, 'reason': reason, 'numbers': numbers.get(agent['id'], [])})
        else:
            kept.append(agent)
    known_ids = set(agent['id'] for agent in agents)
    orphans = sorted((route['phone_number'], route['agent_id']) for route in routes
                     if route.get('agent_id') and route['agent_id'] not in known_ids)
    routed = set(route['phone_number'] for route in routes if route.get('agent_id'))
    unrouted = sorted(purchased - routed)
    left_out.sort(key=lambda entry: (str(entry['agent'].get('name')), entry['agent']['id']))
    kept_ids = set(agent['id'] for agent in kept)
    rotations = dict((agent_id, rotation) for agent_id, rotation in workspace.rotations.items() if agent_id in kept_ids)
    return kept, left_out, orphans, unrouted, numbers, rotations


# ---- the files ----

def hosts_file(hosts):
    lines = ['---',
             '# Written by piopiy.voice.export: one host per agent of the workspace, named after its environment.',
             '# What the export could not express is in %s beside this file.' % REPORT,
             '%s:' % GROUP]
    if not hosts:
        lines.append('  hosts: {}')
    else:
        lines.append('  hosts:')
        # Quoted: a bare on, no, null, yes or true would be read as a boolean or null, not as the host's name.
        lines.extend('    %s:' % yaml_string(host) for host in hosts)
    return '\n'.join(lines) + '\n'


def host_vars_file(host, agent, conventional, numbers, rotation=None, routes_unknown=False):
    lines = ['---', '# Agent %s (%s), exported by piopiy.voice.export.' % (comment_text(agent['name']), agent['id'])]
    if rotation is not None:
        lines.append('# When exported, %s.' % rotation.note())
    if conventional:
        lines.append('# Its name follows the role\'s convention, <environment>-support-agent: no support_agent_name needed.')
    else:
        lines.append('support_agent_name: %s' % yaml_value(agent['name']))
    if isinstance(agent.get('language'), str) and agent['language']:
        lines.append('support_agent_language: %s' % yaml_value(agent['language']))
    else:
        lines.append('# The API did not tell its language; without support_agent_language the role keeps it.')
    if routes_unknown:
        # Never an empty list: the role would then unmap every number of the agent, or refuse; unset, it refuses to run.
        lines.append('# Its numbers are unknown: the API has no GET /phone-number-routing, so the export could not read its routes.')
        lines.append('# List them here before running the role over this host (until then the role refuses to run for it):')
        lines.append('# support_agent_phone_numbers: ["+19499800001"]')
    elif numbers:
        lines.append('support_agent_phone_numbers:')
        lines.extend('  - %s' % yaml_value(number) for number in numbers)
    else:
        lines.append('# It has no numbers, on purpose as far as the export can tell.')
        lines.append('support_agent_phone_numbers: []')
        lines.append('support_agent_allow_empty: true')
    return '\n'.join(lines) + '\n'


def number_ranges(numbers):
    """Sorted numbers as text lines, runs of consecutive numbers of one length written as one range."""
    runs = []
    for number in sorted(numbers, key=lambda number: (len(number), number)):
        last = runs[-1] if runs else None
        if last and len(last[-1]) == len(number) and int(last[-1][1:]) + 1 == int(number[1:]):
            last.append(number)
        else:
            runs.append([number])
    lines = []
    for run in runs:
        if len(run) >= RANGE_MINIMUM:
            lines.append('%s to %s (%d numbers)' % (run[0], run[-1], len(run)))
        else:
            lines.extend(run)
    return lines


ROUTES_UNKNOWN_REPORT = [
    '# Routes: UNKNOWN. The API has no GET /phone-number-routing (Piopiy does not publish it), so the export could not read',
    '# which number routes to which agent. The host files list no numbers: add each environment\'s',
    '# support_agent_phone_numbers before running piopiy.voice.support_agent over the inventory.',
    '',
]


def report_file(hosts, left_out, orphans, unrouted, rotations, routes_unknown=False):
    lines = ['# piopiy.voice.export report: what the inventory beside this file does not manage.',
             '# Nothing here is changed by running piopiy.voice.support_agent over the inventory.',
             '#',
             '# Environments exported: %d (%s)' % (len(hosts), ', '.join(hosts) or 'none'),
             '']
    if routes_unknown:
        lines.extend(ROUTES_UNKNOWN_REPORT)
    if rotations:
        lines.append('# Credential rotations in progress: %d' % len(rotations))
        lines.extend('%s: %s' % (host, rotation.note()) for host, rotation in rotations)
        lines.append('')
    lines.extend(['# Agents left out of the inventory: %d' % len(left_out),
                  '# The role cannot reproduce them exactly; fix them in the dashboard and export again.'])
    for entry in left_out:
        agent = entry['agent']
        numbers = ', '.join(entry['numbers']) or 'none'
        lines.append('%s (%s): %s; numbers: %s' % (comment_text(str(agent.get('name'))), agent['id'], entry['reason'], numbers))
    lines.extend(['', '# Routes to agents the API did not list: %d' % len(orphans)])
    lines.extend('%s -> %s' % (number, agent_id) for number, agent_id in orphans)
    if routes_unknown:
        lines.extend(['', '# Purchased numbers, routes unknown: %d' % len(unrouted)])
    else:
        lines.extend(['', '# Purchased numbers with no route: %d' % len(unrouted),
                      '# Add them to an environment\'s support_agent_phone_numbers to route them.'])
    lines.extend(number_ranges(unrouted))
    return '\n'.join(lines) + '\n'


def export_inventory(agents, routes, purchased_numbers, routes_unknown=False):
    """{relative path: text} of the inventory, plus a summary, for agents (with languages), routes and purchased numbers.

    agents: piopiy_agent_info's agents, each with its language filled in; routes and purchased_numbers: the routes
    and phone_numbers of piopiy_number_route_info; routes_unknown: its routes_unknown (the routes could not be read):
    the host files then list no numbers at all, and say so, rather than an empty list that would unmap them.
    """
    if routes_unknown:
        routes = []
    kept, left_out, orphans, unrouted, numbers, rotations = sort_workspace(list(agents), list(routes), list(purchased_numbers))
    assigned = assign_hosts(kept)
    hosts = [host for host, _agent, _conventional in assigned]
    rotating = [(host, rotations[agent['id']]) for host, agent, _conventional in assigned if agent['id'] in rotations]
    files = {'hosts.yml': hosts_file(hosts), REPORT: report_file(hosts, left_out, orphans, unrouted, rotating, routes_unknown)}
    for host, agent, conventional in assigned:
        files['host_vars/%s.yml' % host] = host_vars_file(host, agent, conventional, numbers.get(agent['id'], []),
                                                          rotations.get(agent['id']), routes_unknown)
    return {
        'routes_unknown': bool(routes_unknown),
        'files': files,
        'hosts': hosts,
        'left_out': [{'id': entry['agent']['id'], 'name': entry['agent'].get('name'), 'reason': entry['reason']} for entry in left_out],
        'orphan_routes': [{'phone_number': number, 'agent_id': agent_id} for number, agent_id in orphans],
        'unrouted_numbers': unrouted,
        'rotations': [{'environment': host, 'name': rotation.name, 'successor_id': rotation.successor['id'], 'replaced_id': rotation.replaced_id}
                      for host, rotation in rotating],
    }


class FilterModule:
    def filters(self):
        return {'export_inventory': export_inventory}
