# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks the audit files that runme.sh's playbook runs wrote, line by line.

Usage: check_audit.py CONFIG SCENARIO ARGS... where CONFIG is the integration config (it names the emulator) and
SCENARIO one of SCENARIOS or of ../setup_piopiy/files/emulator_admin.py's commands (reset...).
Exits non-zero with the first difference found.
"""

from __future__ import annotations

import collections
import getpass
import json
import os
import re
import socket
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_piopiy', 'files'))
from emulator_admin import Mismatch, expect, leaked, main  # pylint: disable=wrong-import-position

FIELDS = ['time', 'run_id', 'playbook', 'play', 'host', 'task', 'module', 'operation', 'resource', 'agent_id', 'agent_name',
          'phone_number', 'before', 'after', 'check_mode', 'changed', 'failed', 'message', 'user', 'rotation_id']
TIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
OPERATIONS = {'create', 'update', 'delete', 'map', 'unmap', 'none'}
AGENT_ID = re.compile(r'^agent_[0-9a-f]+$')
FLEET = ['node%02d' % number for number in range(1, 11)]


def read_lines(path):
    """Every line of the audit file, each checked to be one whole JSON object with the documented fields."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    expect(mode == 0o600, '%s has mode %o, not 600' % (path, mode))
    with open(path, 'rb') as handle:
        raw = handle.read()
    expect(raw.endswith(b'\n'), '%s does not end with a newline: a line was cut' % path)
    lines = []
    for number, text in enumerate(raw.decode('utf-8').splitlines(), 1):
        try:
            line = json.loads(text)
        except ValueError as error:
            raise Mismatch('%s line %d is not JSON (%s): %r' % (path, number, error, text[:200]))
        expect(list(line) == FIELDS, '%s line %d has fields %s' % (path, number, list(line)))
        expect(TIME.match(line['time']), 'bad time', line)
        expect(line['module'].startswith('piopiy.voice.'), 'not a piopiy.voice module', line)
        expect(line['operation'] in OPERATIONS, 'unknown operation', line)
        expect(line['user'] == getpass.getuser(), 'user is not the one running the playbooks', line)
        expect(len(line['run_id']) >= 16, 'run_id too short to be unique', line)
        for flag in ('check_mode', 'changed', 'failed'):
            expect(isinstance(line[flag], bool), '%s is not a boolean' % flag, line)
        lines.append(line)
    return lines


def runs(lines):
    """The lines of each run, runs in the order they first appear."""
    grouped = collections.OrderedDict()
    for line in lines:
        grouped.setdefault(line['run_id'], []).append(line)
    return list(grouped.values())


def summary(line):
    return (line['task'], line['operation'], line['check_mode'], line['changed'], line['failed'])


def expect_summaries(lines, wanted):
    got = [summary(line) for line in lines]
    expect(got == wanted, 'lines differ from what the run did', *(['got:'] + got + ['wanted:'] + wanted))


# The lines of a real run of lifecycle.yml by default; record_check_mode adds its task in check mode, second.
REAL_LIFECYCLE = [
    ('Create the agent', 'create', False, True, False),
    ('Change the language', 'update', False, True, False),
    ('Route two numbers to the agent', 'map', False, True, False),
    ('Route two numbers to the agent', 'map', False, True, False),
    ('Remove the route of one number', 'unmap', False, True, False),
    ("Remove the agent's other route", 'unmap', False, True, False),
    ('Delete the agent', 'delete', False, True, False),
]


def lifecycle(_emulator, path):
    """lifecycle.yml with --check, then for real, by default: only the real run's writes are on record, without
    its task in check mode (Preview a language change)."""
    (real,) = runs(read_lines(path))
    expect_summaries(real, REAL_LIFECYCLE)
    expect((real[1]['before']['language'], real[1]['after']['language']) == ('en-US', 'en-IN'), 'update', real[1])


def planned(_emulator, path):
    """lifecycle.yml with --check, then for real, with record_check_mode: the planned operations too, marked check_mode."""
    preview, real = runs(read_lines(path))
    for line in preview + real:
        expect(line['playbook'].endswith('/lifecycle.yml') and os.path.isabs(line['playbook']), 'playbook', line)
        expect((line['play'], line['host'], line['message']) == ('Agent and route lifecycle', 'localhost', None), 'play/host/message', line)

    expect_summaries(preview, [
        ('Create the agent', 'create', True, True, False),
        ('Preview a language change', 'create', True, True, False),
        ('Change the language', 'create', True, True, False),
        ('Route two numbers to the agent', 'map', True, True, False),
        ('Route two numbers to the agent', 'map', True, True, False),
    ])  # the tasks with nothing to change (in check mode, the agent is not there yet) and the read give no line
    created = preview[0]
    expect((created['resource'], created['agent_id'], created['agent_name'], created['before']) == ('agent', '(new agent)', 'audit-support-agent', None),
           'a create in check mode names the agent, whose id is only known once it is made', created)
    expect(created['after']['language'] == 'en-US', 'check-mode create after', created)
    expect(sorted(line['phone_number'] for line in preview[3:5]) == ['+19499800001', '+19499800002'], 'check-mode maps', preview[3:5])

    expect_summaries(real, REAL_LIFECYCLE[:1] + [('Preview a language change', 'update', True, True, False)] + REAL_LIFECYCLE[1:])
    agent_id = real[0]['agent_id']
    expect(AGENT_ID.match(agent_id or ''), 'the real create has the new id', real[0])
    expect(real[0]['after']['id'] == agent_id and real[0]['after']['language'] == 'en-US', 'create after', real[0])
    expect((real[1]['before']['language'], real[1]['after']['language']) == ('en-US', 'hi-IN'), 'preview update', real[1])
    expect((real[2]['before']['language'], real[2]['after']['language']) == ('en-US', 'en-IN'), 'update', real[2])
    for line in real[:3] + real[7:]:
        expect((line['resource'], line['agent_id'], line['agent_name'], line['phone_number']) == ('agent', agent_id, 'audit-support-agent', None),
               'agent identity', line)
    for line in real[3:7]:
        expect((line['resource'], line['agent_id'], line['agent_name']) == ('route', agent_id, None), 'route identity', line)
    expect(sorted(line['phone_number'] for line in real[3:5]) == ['+19499800001', '+19499800002'], 'maps', real[3:5])
    for line in real[3:5]:
        expect(line['before'] is None and line['after']['agent_id'] == agent_id, 'map before/after', line)
    for line, number in ((real[5], '+19499800002'), (real[6], '+19499800001')):
        expect(line['phone_number'] == number and line['before']['agent_id'] == agent_id and line['after'] is None, 'unmap', line)
    expect(real[7]['before']['language'] == 'en-IN' and real[7]['after'] is None, 'delete before/after', real[7])


def failures(_emulator, path):
    """One run of failures.yml: refused writes, a loop with a failing item, an API error, no_log, a short module name."""
    (lines,) = runs(read_lines(path))
    expect_summaries(lines, [
        ('Create the routed agent', 'create', False, True, False),
        ('Route a number to it', 'map', False, True, False),
        ('Delete the routed agent', 'none', False, False, True),
        ('Create one agent per item, the second item failing', 'create', False, True, False),
        ('Create one agent per item, the second item failing', 'none', False, False, True),
        ('Fail with an API error that carries the key', 'none', False, False, True),
        ('Create an agent with its output hidden', 'none', False, True, False),
        ('Fail a read by its short module name', 'none', False, False, True),
    ])  # the successful read by its short name gives no line: a read is not a change
    routed = lines[0]['agent_id']
    expect(lines[1]['agent_id'] == routed and lines[1]['phone_number'] == '+19499800003', 'map identity', lines[1])
    expect('still has 1 number(s) routed' in lines[2]['message'], 'refused delete message', lines[2])
    expect(lines[3]['agent_name'] == 'audit-loop-agent' and lines[3]['message'] is None, 'loop item that worked', lines[3])
    expect('no agent with id agent_000000000000' in lines[4]['message'], 'loop item that failed', lines[4])
    expect('403' in lines[5]['message'] and 'Bearer ********' in lines[5]['message'], 'API error, redacted', lines[5])
    expect('no_log' in lines[6]['message'] and lines[6]['agent_name'] is None, 'no_log result stays hidden', lines[6])
    expect(lines[7]['module'] == 'piopiy.voice.piopiy_agent_info', 'short name resolved to the FQCN', lines[7])
    expect(all(lines[7][key] is None for key in ('resource', 'agent_id', 'agent_name', 'phone_number', 'before', 'after')),
           'a none line names no resource', lines[7])
    expect(lines[7]['play'] == 'Short module names through the collections keyword', 'second play', lines[7])


def host_lines(run):
    by_host = collections.defaultdict(list)
    for line in run:
        by_host[line['host']].append(line)
    expect(sorted(by_host) == FLEET, 'every fleet host and only those', sorted(by_host))
    return by_host


def fleet(_emulator, path):
    """One run of fleet.yml with routes, ten forks: one create and one map per host."""
    (run,) = runs(read_lines(path))
    expect(len(run) == 20, 'ten hosts, two lines each, got %d' % len(run))
    for host, lines in host_lines(run).items():
        expect([line['operation'] for line in lines] == ['create', 'map'], 'operations of ' + host, lines)
        create, route = lines
        expect(create['agent_name'] == 'audit-solo-' + host and AGENT_ID.match(create['agent_id']), 'create of ' + host, create)
        number = '+194998000' + host[-2:]
        expect((route['agent_id'], route['phone_number']) == (create['agent_id'], number), 'map of ' + host, route)


def concurrent(_emulator, path):
    """Two runs of fleet.yml at once into one file: every line of both, whole, none lost."""
    both = runs(read_lines(path))
    expect(len(both) == 2, 'two run ids, got %d' % len(both))
    tags = set()
    for run in both:
        expect(len(run) == 30, 'ten hosts, three lines each, got %d' % len(run))
        for host, lines in host_lines(run).items():
            expect([line['operation'] for line in lines] == ['create', 'update', 'delete'], 'operations of ' + host, lines)
            expect(len(set(line['agent_id'] for line in lines)) == 1, 'one agent per host', lines)
            expect(lines[1]['after']['language'] == 'ta-IN', 'update', lines[1])
            tags.add(lines[0]['agent_name'].split('-')[1])
    expect(tags == {'a', 'b'}, 'each run wrote its own agents', tags)


def distinct_runs(_emulator, expected, *paths):
    """Every run_id is one run's: as many distinct ids across the files as there were runs."""
    ids = set()
    for path in paths:
        ids.update(line['run_id'] for line in read_lines(path))
    expect(len(ids) == int(expected), '%s runs, %d run ids' % (expected, len(ids)), sorted(ids))


def secrets(emulator, minimum_tokens, *paths):
    """No API key and no agent token the emulator issued appears in any audit file."""
    tokens = emulator.tokens()
    expect(len(tokens) >= int(minimum_tokens), 'the runs issued %d tokens, expected at least %s' % (len(tokens), minimum_tokens))
    needles = emulator.api_keys() + tokens
    for path in paths:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
        found = leaked(needles, text)
        expect(not found, '%s leaks %d secret(s)' % (path, len(found)))
        expect('agent_token' not in text, '%s mentions agent_token' % path)


def syslog_server(_emulator, port_file, messages_file):
    """A UDP syslog stand-in on loopback: writes its port to port_file, then each datagram as one line of messages_file.

    runme.sh stops it; should that fail, it stops itself after ten minutes without a datagram.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server, open(messages_file, 'a', encoding='utf-8') as messages:
        server.bind(('127.0.0.1', 0))
        server.settimeout(600)
        with open(port_file + '.tmp', 'w', encoding='utf-8') as handle:
            handle.write(str(server.getsockname()[1]))
        os.rename(port_file + '.tmp', port_file)
        while True:
            try:
                datagram = server.recv(65536)
            except socket.timeout:
                return
            messages.write(datagram.decode('utf-8').replace('\n', ' ') + '\n')
            messages.flush()


def tagged_records(lines, prefix):
    """The JSON records of the lines that start with prefix and the audit tag."""
    tag = prefix + 'piopiy.voice.audit: '
    return [json.loads(line[len(tag):]) for line in lines if line.startswith(tag)]


def sinks(_emulator, audit_file, syslog_file, output_file):
    """Syslog (facility local3, severity info) and the run's output carry exactly the lines of the audit file."""
    lines = read_lines(audit_file)
    expect(len(lines) == len(REAL_LIFECYCLE), 'the lifecycle run gives %d lines, got %d' % (len(REAL_LIFECYCLE), len(lines)))
    with open(syslog_file, encoding='utf-8') as handle:
        messages = handle.read().splitlines()
    expect(tagged_records(messages, '<158>') == lines and len(messages) == len(lines), 'syslog differs from the file', messages[:3])
    with open(output_file, encoding='utf-8') as handle:
        shown = tagged_records(handle.read().splitlines(), '')
    expect(shown == lines, 'the run output shows %d records, the file has %d' % (len(shown), len(lines)))


SCENARIOS = {
    'lifecycle': lifecycle,
    'planned': planned,
    'failures': failures,
    'fleet': fleet,
    'concurrent': concurrent,
    'distinct-runs': distinct_runs,
    'secrets': secrets,
    'syslog-server': syslog_server,
    'sinks': sinks,
}


if __name__ == '__main__':
    sys.exit(main(SCENARIOS, sys.argv))
