# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: plan
type: notification
short_description: Report what piopiy.voice tasks would change, and exit with a drift status in check mode
version_added: 0.1.0
description:
  - Collects the C(operations) of every C(piopiy.voice) task result of a run (one item per create, update, delete,
    map or unmap the task did, or in check mode would do) into a plan, one row per change, with the environment
    (the inventory host), the agent, the phone number, the state before and after, and the action.
  - With O(plan_dir) set, writes the plan as C(plan.md), a Markdown table a person reads in a pull request, and
    C(plan.json), the same rows for programs (with C(schema_version)), both grouped by environment and sorted,
    with no time stamp, so that an unchanged workspace gives identical files. A real run writes the same report
    of what it did. Only agent names, ids, languages and phone numbers are written, never an API key or agent token.
  - Buys and releases of phone numbers (C(op=buy) and C(op=release) of M(piopiy.voice.piopiy_phone_number)) are rows
    too, with C(resource=phone_number). As they spend money or may lose a number for good, C(plan.md) marks their
    action in bold (B(BUY) (spends money), B(RELEASE) (the number may be lost)) and names every one of them in a
    C(Money) line above the table.
  - "The drift gate: in a run with C(--check), where C(ansible-playbook) would otherwise exit 0, it exits with B(16) when
    at least one C(piopiy.voice) task would change something, B(17) when nothing would change but an environment could
    not be compared (a result with C(unknown)), B(18) when a C(piopiy.voice) task failed and C(ignore_errors) or a
    C(rescue) absorbed the failure, and B(19) when no C(piopiy.voice) task ran at all (a wrong inventory, a C(--limit)
    or host pattern that matched no host): the gate never says \"no drift\" when it did not compare. A failed task or
    an unreachable host that Ansible reports keeps C(ansible-playbook)'s own status (2 or 4). Exit 0 means every
    environment was compared and matches. Tasks of other collections (C(ansible.builtin.set_fact), a C(debug) with
    C(changed_when)) never count. The statuses, the C(plan.json) fields and a CI job are in C(docs/drift-gate.md)."
  - "In a run without C(--check), the result of a task in check mode (its C(check_mode) keyword, such as the pre-flight
    of C(support_agent_max_route_changes_per_run)) is a prediction, not a change: the report leaves it out."
  - A C(piopiy.voice) task result counts as a change when it has operations or reports C(changed). A result hidden
    by C(no_log) that reports C(changed) is a hidden change; the report shows that it exists, never its values.
  - "Each environment (inventory host) gets a status: C(ok) (compared), C(failed) (a C(piopiy.voice) task failed for
    it, even one whose failure C(ignore_errors) or a C(rescue) absorbed), C(unreachable), or C(unknown) (a task result
    carried C(unknown): true, or a list of what could not be compared, each a text or an object with C(phone_number),
    C(agent) and C(reason)). C(plan.json) says C(status) for the whole run: C(no_drift), C(drift), C(unknown),
    C(incomplete) or C(nothing_compared); and C(drift): true when a change was found, false only when every environment
    was compared and none would change, else null."
  - Ansible's own exit statuses are the bit flags 1, 2, 4 and 8 (8 never leaves C(ansible-playbook)) and their
    combinations up to 15, and 99, 250 and 255; 16 is the first status that none of them can be. Status 16 is
    set when C(ansible-playbook) exits, after every playbook on its command line and every other callback ran,
    and only in place of a 0.
author:
  - piopiy.voice maintainers (@piopiy-voice)
requirements:
  - enable in configuration, with C(callbacks_enabled = piopiy.voice.plan) in the C([defaults]) section of
    C(ansible.cfg), or C(ANSIBLE_CALLBACKS_ENABLED=piopiy.voice.plan) in the environment
options:
  plan_dir:
    description:
      - The directory to write C(plan.md) and C(plan.json) to; it is created when missing. Existing plan files
        there are replaced.
      - Without it no report is written; the drift gate works either way.
      - A relative path set in C(ansible.cfg) is relative to the directory of that file; otherwise to the
        current directory.
    type: path
    env:
      - name: PIOPIY_PLAN_DIR
    ini:
      - section: callback_piopiy_plan
        key: plan_dir
  drift_exit:
    description:
      - Whether a C(--check) run that ansible-playbook would end with 0 exits with the drift gate's status (16 drift,
        17 unknown, 18 incomplete, 19 nothing compared) instead.
      - Runs without C(--check) never get these statuses.
    type: bool
    default: true
    env:
      - name: PIOPIY_DRIFT_EXIT
    ini:
      - section: callback_piopiy_plan
        key: drift_exit
notes:
  - "ansible-core gives a callback no public way to set the exit status: the gate replaces C(sys.exit), which
    C(ansible-playbook) calls when it ends, with one that turns a 0 into the gate's status. C(ansible-runner) runs
    C(ansible-playbook) as a child process, so its C(rc) is the gate's status too. A program that runs playbooks inside
    its own process without C(ansible-playbook)'s C(sys.exit) does not get it; it reads C(status) in C(plan.json)."
  - A row's C(before) or C(after) names an agent by the name this run saw for its id (from any C(piopiy.voice) result
    of the run), else by its id.
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = piopiy.voice.audit, piopiy.voice.plan
#
# [callback_piopiy_plan]
# plan_dir = ./plan

# In CI: exit 0 when production matches the inventory, 16 on drift, anything else when the run broke or compared
# less than everything (see docs/drift-gate.md).
# ANSIBLE_CALLBACKS_ENABLED=piopiy.voice.plan PIOPIY_PLAN_DIR=plan \
#   ansible-playbook -i inventory piopiy.voice.support_agent --check

# plan.md:
# | environment | agent | number | before | after | action |
# |---|---|---|---|---|---|
# | prod | prod-support-agent | +19499800004 | dev-support-agent | prod-support-agent | map |
"""

import json
import os
import sys
import tempfile

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.piopiy.voice.plugins.module_utils.client_redact import redact, redact_data
from ansible_collections.piopiy.voice.plugins.plugin_utils.task_results import environment_secrets, piopiy_result_parts, task_result_parts

SCHEMA_VERSION = 2
DRIFT_EXIT_STATUS = 16
# The run's status (plan.json `status`) and the exit status of a --check run that Ansible would end with 0.
NO_DRIFT = 'no_drift'
DRIFT = 'drift'
UNKNOWN = 'unknown'
INCOMPLETE = 'incomplete'
NOTHING_COMPARED = 'nothing_compared'
GATE_EXIT_STATUS = {NO_DRIFT: 0, DRIFT: DRIFT_EXIT_STATUS, UNKNOWN: 17, INCOMPLETE: 18, NOTHING_COMPARED: 19}
# An environment's status.
OK = 'ok'
FAILED = 'failed'
UNREACHABLE = 'unreachable'
HIDDEN = '(hidden by no_log)'
NO_ROUTE = '(no route)'
ABSENT = '(absent)'
NEW_AGENT = '(new agent)'
RESOURCE_ORDER = {'agent': 0, 'route': 1, 'phone_number': 2}
ACTION_ORDER = {'create': 0, 'update': 1, 'map': 2, 'unmap': 3, 'delete': 4, 'buy': 5, 'release': 6}
# Buys spend money and releases may lose a number for good: their action cell in plan.md says so, in bold.
MONEY_ACTIONS = {'buy': '**BUY** (spends money)', 'release': '**RELEASE** (the number may be lost)'}
NOT_PURCHASED = '(not purchased)'


# ---- rows: pure functions of task results ----

def agent_names_in(result):
    """{agent id: name} for every agent a piopiy.voice task result shows."""
    agents = list(result.get('agents') or [])
    if isinstance(result.get('agent'), dict):
        agents.append(result['agent'])
    for operation in result.get('operations') or []:
        if isinstance(operation, dict) and operation.get('resource') == 'agent':
            agents.extend(state for state in (operation.get('before'), operation.get('after')) if isinstance(state, dict))
    return dict((agent['id'], agent['name']) for agent in agents
                if isinstance(agent, dict) and agent.get('id') and isinstance(agent.get('name'), str))


def agent_fields(state):
    """The reviewable fields of an agent, nothing else (never a token)."""
    if not isinstance(state, dict):
        return None
    return {'name': state.get('name'), 'language': state.get('language')}


def describe_agent(before, after):
    """before and after cells of an agent row: what changed for an update, the whole agent otherwise."""
    keys = ('name', 'language')
    if before and after:
        keys = tuple(key for key in keys if before.get(key) != after.get(key)) or keys

    def cell(state):
        return ', '.join('%s %s' % (key, state.get(key)) for key in keys) if state else ABSENT
    return cell(before), cell(after)


class AgentNames:
    """Names of agents by id, learnt from every result of the run, with the task's new agent for a null id."""

    def __init__(self, known=None, new_agent=None):
        self.known = known if known is not None else {}
        self.new_agent = new_agent

    def name(self, agent_id):
        if agent_id is None:
            return self.new_agent or NEW_AGENT
        return self.known.get(agent_id, agent_id)


def route_row(operation, names):
    before_agent = (operation.get('before') or {}).get('agent_id')
    after_route = operation.get('after') or {}
    if operation.get('op') == 'unmap':
        agent_id = operation.get('agent_id') or before_agent
        after = None
    else:
        agent_id = after_route.get('agent_id', operation.get('agent_id'))
        after = {'agent_id': agent_id, 'agent': names.name(agent_id)}
    before = {'agent_id': before_agent, 'agent': names.name(before_agent)} if operation.get('before') else None
    return {
        'resource': 'route', 'action': operation.get('op'), 'agent': names.name(agent_id), 'agent_id': agent_id,
        'phone_number': operation.get('phone_number'), 'before': before, 'after': after,
        'before_text': before['agent'] if before else NO_ROUTE, 'after_text': after['agent'] if after else NO_ROUTE,
    }


def agent_row(operation):
    before, after = agent_fields(operation.get('before')), agent_fields(operation.get('after'))
    before_text, after_text = describe_agent(before, after)
    return {
        'resource': 'agent', 'action': operation.get('op'), 'agent': operation.get('name') or (after or before or {}).get('name'),
        'agent_id': operation.get('id'), 'phone_number': None, 'before': before, 'after': after,
        'before_text': before_text, 'after_text': after_text,
    }


def number_row(operation, names):
    """A buy or release of a phone number; the agent is the one a released number routed to, if any."""
    before, after = operation.get('before'), operation.get('after')
    agent_id = before.get('agent_id') if isinstance(before, dict) else None

    def status(state):
        return {'id': state.get('id'), 'status': state.get('status')} if isinstance(state, dict) else None
    return {
        'resource': 'phone_number', 'action': operation.get('op'), 'agent': names.name(agent_id) if agent_id else None,
        'agent_id': agent_id, 'phone_number': operation.get('phone_number'), 'before': status(before), 'after': status(after),
        'before_text': 'purchased' if before else NOT_PURCHASED, 'after_text': 'purchased' if after else NOT_PURCHASED,
    }


def row_for(operation, names):
    if operation.get('resource') == 'agent':
        return agent_row(operation)
    if operation.get('resource') == 'phone_number':
        return number_row(operation, names)
    return route_row(operation, names)


def money_line(data):
    """The plan.md line that no reviewer can miss when numbers are bought or released, else None."""
    moves = {'buy': [], 'release': []}
    for environment in data['environments']:
        for change in environment['changes']:
            if change['resource'] == 'phone_number' and change['action'] in moves:
                moves[change['action']].append('%s (%s)' % (change['phone_number'], environment['environment']))
    if not moves['buy'] and not moves['release']:
        return None
    verbs = {'buy': 'would buy', 'release': 'would release'} if data['mode'] == 'check' else {'buy': 'bought', 'release': 'released'}
    parts = ['%s %d number(s): %s' % (verbs[action], len(moves[action]), ', '.join(moves[action]))
             for action in ('buy', 'release') if moves[action]]
    return '**Money**: this run %s.' % '; '.join(parts)


def rows_from_result(result, known_names=None):
    """One plan row per item of a piopiy.voice result's `operations`."""
    known = dict(known_names or {})
    known.update(agent_names_in(result))
    new_agent = next((operation.get('name') for operation in result.get('operations') or []
                      if isinstance(operation, dict) and operation.get('op') == 'create' and operation.get('resource') == 'agent'), None)
    names = AgentNames(known, new_agent)
    rows = []
    for operation in result.get('operations') or []:
        if not isinstance(operation, dict):
            continue
        rows.append(row_for(operation, names))
    return rows


def is_change(result):
    return bool(result.get('operations')) or bool(result.get('changed'))


def is_hidden_change(result):
    """A result that no_log hid from the callbacks (only `censored`, `changed` and a few flags stay) and that changed something."""
    return 'censored' in result and bool(result.get('changed'))


def unknown_items(result):
    """What a result says it could not compare: its `unknown` (true, or a list of texts or objects), as texts."""
    unknown = result.get('unknown')
    if not unknown:
        return []
    if not isinstance(unknown, list):
        return ['(not said)']
    items = []
    for item in unknown:
        if isinstance(item, dict):
            where = ' '.join(str(item[key]) for key in ('agent', 'phone_number') if item.get(key))
            items.append(': '.join(part for part in (where, str(item.get('reason') or '')) if part) or '(not said)')
        else:
            items.append(str(item))
    return items


def row_sort_key(row):
    return (str(row['agent'] or ''), RESOURCE_ORDER.get(row['resource'], 9), str(row['phone_number'] or ''),
            ACTION_ORDER.get(row['action'], 9))


# ---- the plan and its two renderings ----

class Plan:
    """Everything the run's piopiy.voice tasks did or would do, per environment."""

    def __init__(self):
        self.results = {}      # host -> [(operations and agents of a result, task name)]
        self.changed = {}      # host -> bool: a piopiy.voice result that counts as a change
        self.names = {}        # agent id -> name, from every result
        self.status = {}       # host -> OK, FAILED or UNREACHABLE: whether its tasks ran to the end
        self.hidden = {}       # host -> how many changed results no_log hid
        self.unknown = {}      # host -> [what its results could not compare]

    def add_result(self, host, result, task_name, failed=False):
        environments = result.get('environments')
        if isinstance(environments, dict) and environments and not failed:
            # piopiy_fleet plans a whole workspace in one task, run once: each environment's part of its result, with the
            # operations that name it, is filed under that environment (not under the host that happened to run the task),
            # its agents named as it names them.
            operations = {}
            for item in result.get('operations') or []:
                if isinstance(item, dict):
                    operations.setdefault(str(item.get('environment')), []).append(item)
            for environment, part in sorted(environments.items()):
                if isinstance(part, dict):
                    self.add_result(str(environment), dict(part, operations=operations.get(str(environment), [])), task_name)
            return
        self.names.update(agent_names_in(result))
        kept = dict((key, result.get(key)) for key in ('operations', 'agent', 'agents'))
        self.results.setdefault(host, []).append((kept, task_name))
        self.changed[host] = self.changed.get(host, False) or is_change(result)
        self.hidden[host] = self.hidden.get(host, 0) + int(is_hidden_change(result))
        self.unknown.setdefault(host, []).extend(unknown_items(result))
        self.status.setdefault(host, OK)
        if failed:
            self.mark(host, FAILED)  # even when ignore_errors or a rescue absorbed it: the environment was not compared

    def mark(self, host, status):
        self.results.setdefault(host, [])
        self.changed.setdefault(host, False)
        if self.status.get(host) != UNREACHABLE:
            self.status[host] = status

    def environment_status(self, host):
        """OK, FAILED, UNREACHABLE, or UNKNOWN for a host whose tasks ran but could not compare everything."""
        status = self.status.get(host, OK)
        return UNKNOWN if status == OK and self.unknown.get(host) else status

    @property
    def run_status(self):
        """The run's status: what the gate may say, never more than was compared."""
        if not self.results:
            return NOTHING_COMPARED
        statuses = set(self.environment_status(host) for host in self.results)
        if statuses & {FAILED, UNREACHABLE}:
            return INCOMPLETE
        if self.drift:
            return DRIFT
        return UNKNOWN if UNKNOWN in statuses else NO_DRIFT

    @property
    def drift_found(self):
        """True when a change was found, False only when every environment was compared and matches, else None."""
        if self.drift:
            return True
        return False if self.run_status == NO_DRIFT else None

    @property
    def rows(self):
        """{host: [row]}, rows sorted; agents named by every name the whole run saw, learnt after them or not."""
        rows = {}
        for host, results in self.results.items():
            rows[host] = []
            for result, task_name in results:
                for row in rows_from_result(result, self.names):
                    row['task'] = task_name
                    rows[host].append(row)
            rows[host].sort(key=row_sort_key)
        return rows

    @property
    def drift(self):
        return any(self.changed.values())

    def as_data(self, check_mode, secrets=()):
        environments = []
        rows = self.rows
        for host in sorted(rows):
            changes = [dict((key, row.get(key)) for key in ('action', 'resource', 'agent', 'agent_id', 'phone_number', 'before', 'after', 'task'))
                       for row in rows[host]]
            environments.append({'environment': host, 'status': self.environment_status(host), 'changed': self.changed[host],
                                 'changes': changes, 'hidden_changes': self.hidden.get(host, 0), 'unknown': self.unknown.get(host, [])})
        data = {
            'schema_version': SCHEMA_VERSION,
            'mode': 'check' if check_mode else 'apply',
            'status': self.run_status,
            'drift': self.drift_found,
            'change_count': sum(len(environment['changes']) for environment in environments),
            'hidden_change_count': sum(environment['hidden_changes'] for environment in environments),
            'environments': environments,
        }
        return redact_data(data, secrets)


def markdown_cell(value):
    text = '' if value is None else str(value)
    return text.replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')


def render_json(data):
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


NOTHING_COMPARED_TEXT = ('**Nothing was compared**: no piopiy.voice task ran for any host (an inventory or a --limit that '
                         'matched no host, or every piopiy.voice task skipped). This is not "no drift".')


def summary_lines(data):
    """The lines under the heading: what was found, then what was not compared, never "matches" when something was not."""
    environments = data['environments']
    if not environments:
        return [NOTHING_COMPARED_TEXT]
    changed = [environment['environment'] for environment in environments if environment['changed']]
    if changed:
        hidden = ' (%d hidden by no_log)' % data['hidden_change_count'] if data['hidden_change_count'] else ''
        count = data['change_count'] + data['hidden_change_count']
        lines = ['%d change(s)%s in %d environment(s): %s.' % (count, hidden, len(changed), ', '.join(changed))]
    elif data['status'] == NO_DRIFT:
        lines = ['No changes: every environment matches.']
    else:
        lines = ['No change found in what was compared, but not every environment was compared: this is not "no drift".']
    money = money_line(data)
    if money:
        lines.extend(['', money])
    broken = ['%s (%s)' % (environment['environment'], environment['status'])
              for environment in environments if environment['status'] in (FAILED, UNREACHABLE)]
    if broken:
        lines.extend(['', '**Incomplete**: the run failed for %s; their rows may be missing.' % ', '.join(broken)])
    unknown = ['%s (%s)' % (environment['environment'], '; '.join(environment['unknown']))
               for environment in environments if environment['unknown']]
    if unknown:
        lines.extend(['', '**Unknown**: could not compare %s; neither a change nor a match is known there.' % ', '.join(unknown)])
    hidden = ['%s (%d)' % (environment['environment'], environment['hidden_changes']) for environment in environments if environment['hidden_changes']]
    if hidden:
        lines.extend(['', '**Hidden**: change(s) of tasks with no_log in %s; what they change is not shown.' % ', '.join(hidden)])
    return lines


def environment_rows(environment, texts):
    """The table cells of one environment: its changes, a row per hidden change and per unknown, or one row saying its status."""
    rows = list(texts)
    rows.extend((HIDDEN, '', '', '', 'change (hidden)') for unused in range(environment['hidden_changes']))
    rows.extend(('', '', '', '', 'unknown: %s' % item) for item in environment['unknown'])
    if not rows:
        rows.append(('', '', '', '', 'no change' if environment['status'] == OK else 'not compared (%s)' % environment['status']))
    return rows


def render_markdown(data, rows_text):
    """plan.md: a heading, a summary, and one table of every change grouped by environment."""
    title = 'Plan (check mode): what a real run would change' if data['mode'] == 'check' else 'Changes applied'
    lines = ['# piopiy.voice: %s' % title, ''] + summary_lines(data)
    lines.extend(['', '| environment | agent | number | before | after | action |', '|---|---|---|---|---|---|'])
    for environment in data['environments']:
        for text in environment_rows(environment, rows_text.get(environment['environment']) or []):
            lines.append('|%s|' % '|'.join(' %s ' % markdown_cell(cell) if markdown_cell(cell) else ' '
                                           for cell in (environment['environment'],) + tuple(text)))
    return '\n'.join(lines) + '\n'


def rows_as_text(plan, secrets=()):
    """The table cells of each environment's rows, in the order of the JSON."""
    texts = {}
    for host, rows in plan.rows.items():
        texts[host] = [tuple(redact(str(cell) if cell is not None else '', secrets)
                             for cell in (row['agent'], row['phone_number'], row['before_text'], row['after_text'],
                                          MONEY_ACTIONS.get(row['action'], row['action'])))
                       for row in rows]
    return texts


def write_atomically(directory, name, text):
    handle, temporary = tempfile.mkstemp(prefix='.%s.' % name, dir=directory)
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_report(directory, plan, check_mode, secrets=()):
    """Write plan.json and plan.md into directory, creating it if needed."""
    os.makedirs(directory, exist_ok=True)
    data = plan.as_data(check_mode, secrets)
    write_atomically(directory, 'plan.json', render_json(data))
    write_atomically(directory, 'plan.md', render_markdown(data, rows_as_text(plan, secrets)))
    return data


# ---- the exit status ----

def exit_status(ansible_status, gate_status):
    """The status the run ends with: Ansible's own unless it is a success, then the gate's."""
    if ansible_status in (0, None):
        return gate_status
    return ansible_status


def exit_with_gate_status(gate_status):
    """Make the process exit with gate_status where ansible-playbook would exit with 0.

    No public way exists: ansible-core gives callbacks no say in the exit status (ansible-playbook's CLI ends by calling
    sys.exit with its status, and it catches and only warns about an exception raised in a callback). So this replaces
    sys.exit, which ansible-playbook calls once every playbook and callback ran; that keeps every failure status as it
    is and lets Python's normal shutdown (atexit handlers, flushing) run, where a SystemExit raised from a callback
    would skip the callbacks after this one and the later playbooks. Tested on the oldest and newest ansible-core of
    the matrix and under ansible-runner (tests/awx/test_ansible_runner.py); CI that prefers no exit status reads
    `status` in plan.json (docs/drift-gate.md).
    """
    original = sys.exit
    if getattr(original, 'piopiy_drift_gate', None) is not None:
        original.piopiy_drift_gate = gate_status
        return

    def exit_with_status(status=None):
        original(exit_status(status, exit_with_status.piopiy_drift_gate))
    exit_with_status.piopiy_drift_gate = gate_status
    sys.exit = exit_with_status


class CallbackModule(CallbackBase):
    """Collects piopiy.voice operations into a plan report and turns drift into an exit status."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'piopiy.voice.plan'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = Plan()
        self.secrets = environment_secrets()

    @property
    def check_mode(self):
        return bool(context.CLIARGS.get('check', False))

    def v2_runner_on_ok(self, result):
        self.collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.collect(result, failed=True)

    def v2_runner_item_on_ok(self, result):
        self.collect(result)

    def v2_runner_item_on_failed(self, result):
        self.collect(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self.plan.mark(task_result_parts(result)[1].get_name(), 'unreachable')

    def collect(self, result, failed=False):
        parts = piopiy_result_parts(result)
        if parts is None:
            return
        unused_task, host, data, task_fields = parts
        # In a real run, a task in check mode (such as a pre-flight) predicted and did nothing: not in the report of what was done.
        if not self.check_mode and task_fields.get('check_mode'):
            return
        self.plan.add_result(host.get_name(), data, result.task_name, failed=failed)

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed):
            summary = stats.summarize(host)
            if summary.get('unreachable'):
                self.plan.mark(host, UNREACHABLE)
            elif summary.get('failures'):
                self.plan.mark(host, FAILED)
        directory = self.get_option('plan_dir')
        if directory:
            try:
                write_report(directory, self.plan, self.check_mode, self.secrets)
            except OSError as error:
                self._display.warning('piopiy.voice.plan cannot write the plan to %s (%s)' % (directory, error))
            else:
                self._display.display('piopiy.voice.plan: wrote %s and %s' % (
                    os.path.join(directory, 'plan.md'), os.path.join(directory, 'plan.json')))
        if self.check_mode and self.get_option('drift_exit'):
            self.gate()

    def gate(self):
        status = self.plan.run_status
        if status == NO_DRIFT:
            return

        def hosts(*statuses):
            return ', '.join(sorted(host for host in self.plan.results if self.plan.environment_status(host) in statuses))
        changed = ', '.join(sorted(host for host, changed in self.plan.changed.items() if changed))
        unknown = hosts(UNKNOWN)
        said = {
            DRIFT: 'drift in %s%s' % (changed, '; %s could not be compared' % unknown if unknown else ''),
            UNKNOWN: 'no drift found, but %s could not be compared' % unknown,
            INCOMPLETE: 'the run failed for %s%s' % (hosts(FAILED, UNREACHABLE), '; drift in %s' % changed if changed else ''),
            NOTHING_COMPARED: 'nothing was compared: no piopiy.voice task ran for any host',
        }[status]
        self._display.display('piopiy.voice.plan: %s; ansible-playbook exits with status %d unless it failed'
                              % (said, GATE_EXIT_STATUS[status]))
        exit_with_gate_status(GATE_EXIT_STATUS[status])
