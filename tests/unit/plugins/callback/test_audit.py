# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The audit callback: the lines it builds, and how it appends them to a real file."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import socket
import stat
import threading

import pytest

from ansible import context
from ansible.plugins.loader import callback_loader
from ansible.utils.context_objects import CLIArgs

from ansible_collections.piopiy.voice.plugins.callback.audit import FIELDS, AuditLog, append_line, build_lines, parse_syslog_address
from ansible_collections.piopiy.voice.plugins.module_utils.client_redact import redact_data as redact

CONTEXT = {
    'time': '2025-01-31T09:15:02.123Z', 'run_id': 'run-1', 'playbook': '/srv/site.yml', 'play': 'Support', 'host': 'node01',
    'task': 'Ensure the agent', 'module': 'piopiy.voice.piopiy_agent', 'check_mode': False, 'user': 'deploy',
}
AGENT_BEFORE = {'id': 'agent_1', 'name': 'prod-support-agent', 'language': 'en-US', 'status': 'active'}
AGENT_AFTER = dict(AGENT_BEFORE, language='en-IN')
ROUTE = {'phone_number': '+19499800001', 'route_type': 'ai_agent', 'agent_id': 'agent_1', 'status': 'connected'}
TOKEN = 'agt_live_0123456789abcdef0123456789abcdef'


def read_lines(path):
    with open(path, 'rb') as handle:
        raw = handle.read()
    assert raw.endswith(b'\n')
    return [json.loads(text) for text in raw.decode('utf-8').split('\n')[:-1]]


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class Umask:
    def __init__(self, mask):
        self.mask = mask
        self.previous = None

    def __enter__(self):
        self.previous = os.umask(self.mask)

    def __exit__(self, *unused):
        os.umask(self.previous)


# ---- building lines ----

def test_an_agent_operation_gives_every_field_in_order():
    result = {'changed': True, 'operations': [
        {'op': 'update', 'resource': 'agent', 'id': 'agent_1', 'name': 'prod-support-agent', 'before': AGENT_BEFORE, 'after': AGENT_AFTER}]}
    (line,) = build_lines(CONTEXT, result, failed=False)
    assert list(line) == list(FIELDS)
    assert line == dict(CONTEXT, operation='update', resource='agent', agent_id='agent_1', agent_name='prod-support-agent',
                        phone_number=None, before=AGENT_BEFORE, after=AGENT_AFTER, changed=True, failed=False, message=None,
                        rotation_id=None)


def test_every_line_of_a_rotation_step_carries_its_rotation_id():
    result = {'changed': True, 'rotation_id': 'rotation-agent_1', 'operations': [
        {'op': 'map', 'resource': 'route', 'phone_number': '+19499800001', 'agent_id': 'agent_2', 'before': ROUTE, 'after': ROUTE},
        {'op': 'delete', 'resource': 'agent', 'id': 'agent_1', 'name': 'prod-support-agent', 'before': AGENT_BEFORE, 'after': None}]}
    assert [line['rotation_id'] for line in build_lines(CONTEXT, result, failed=False)] == ['rotation-agent_1'] * 2
    assert [line['rotation_id'] for line in build_lines(CONTEXT, {'rotation_id': 'rotation-agent_1'}, failed=True)] == ['rotation-agent_1']


def test_each_route_operation_gives_its_own_line():
    unmapped = dict(ROUTE, phone_number='+19499800002')
    result = {'changed': True, 'operations': [
        {'op': 'map', 'resource': 'route', 'phone_number': '+19499800001', 'agent_id': 'agent_1', 'before': None, 'after': ROUTE},
        {'op': 'unmap', 'resource': 'route', 'phone_number': '+19499800002', 'agent_id': 'agent_1', 'before': unmapped, 'after': None}]}
    lines = build_lines(dict(CONTEXT, module='piopiy.voice.piopiy_number_route'), result, failed=False)
    assert [(line['operation'], line['resource'], line['phone_number'], line['agent_id'], line['agent_name']) for line in lines] == [
        ('map', 'route', '+19499800001', 'agent_1', None), ('unmap', 'route', '+19499800002', 'agent_1', None)]
    assert (lines[0]['before'], lines[0]['after'], lines[1]['before'], lines[1]['after']) == (None, ROUTE, unmapped, None)


@pytest.mark.parametrize('result', [
    {'changed': False, 'operations': []},
    {'changed': False, 'agents': [AGENT_BEFORE]},
], ids=['unchanged', 'info module'])
def test_a_read_or_a_no_op_gives_no_line(result):
    """The trail has one line per create, update, delete, map or unmap: reads and no-ops are not changes (they were 12 of
    the demo's 30 lines)."""
    assert build_lines(CONTEXT, result, failed=False) == []


def test_a_failed_read_gives_a_none_line_naming_no_resource():
    (line,) = build_lines(CONTEXT, {'changed': False, 'agents': [], 'msg': 'API key rejected (401)'}, failed=True)
    assert (line['operation'], line['changed'], line['failed'], line['message']) == ('none', False, True, 'API key rejected (401)')
    assert all(line[field] is None for field in ('resource', 'agent_id', 'agent_name', 'phone_number', 'before', 'after'))


def test_a_failure_keeps_its_message_and_the_writes_made_before_it():
    write = {'op': 'map', 'resource': 'route', 'phone_number': '+19499800001', 'agent_id': 'agent_1', 'before': None, 'after': ROUTE}
    result = {'changed': True, 'msg': '1 of 2 route change(s) failed', 'operations': [write]}
    (line,) = build_lines(CONTEXT, result, failed=True)
    assert (line['operation'], line['changed'], line['failed'], line['message']) == ('map', True, True, '1 of 2 route change(s) failed')


def test_a_failure_before_any_write_gives_a_none_line():
    (line,) = build_lines(CONTEXT, {'msg': 'agent busy', 'changed': False}, failed=True)
    assert (line['operation'], line['failed'], line['message']) == ('none', True, 'agent busy')


def test_a_result_hidden_by_no_log_stays_hidden_and_says_so():
    censored = {'changed': True, 'censored': "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}
    (line,) = build_lines(CONTEXT, censored, failed=False)
    assert (line['operation'], line['changed']) == ('none', True)
    assert 'no_log' in line['message']


def test_only_operations_and_a_few_fields_are_read_from_the_result():
    result = {'changed': True, 'agent_token': TOKEN, 'invocation': {'module_args': {'api_key': 'pk_live_secret'}},
              'operations': [{'op': 'create', 'resource': 'agent', 'id': 'agent_1', 'name': 'a', 'before': None, 'after': AGENT_BEFORE}]}
    text = json.dumps(build_lines(CONTEXT, result, failed=False))
    assert TOKEN not in text and 'pk_live_secret' not in text and 'invocation' not in text


def test_check_mode_comes_from_the_context():
    (line,) = build_lines(dict(CONTEXT, check_mode=True), {'changed': True, 'operations': [
        {'op': 'create', 'resource': 'agent', 'id': None, 'name': 'a', 'before': None, 'after': AGENT_BEFORE}]}, failed=False)
    assert (line['check_mode'], line['agent_id'], line['operation']) == (True, None, 'create')


# ---- redaction ----

@pytest.mark.parametrize('text, expected', [
    ('401 (Authorization: Bearer pk_test_acme_0001)', '401 (Authorization: Bearer ********)'),
    ('token %s issued' % TOKEN, 'token agt_******** issued'),
    ('key pk_live_A1b2-C3 refused', 'key pk_******** refused'),
    ('agent desk_pk_1 and backup_agent', 'agent desk_pk_1 and backup_agent'),
], ids=['bearer', 'agent token', 'api key', 'lookalikes'])
def test_redact_scrubs_credentials_and_keeps_the_rest(text, expected):
    assert redact(text) == expected


def test_redact_reaches_nested_values_and_the_given_secrets():
    value = {'msg': 'key s3cr3t-key rejected', 'after': {'name': TOKEN, 'tags': ['Bearer abc.def', 7, None, True]}}
    assert redact(value, ['s3cr3t-key']) == {
        'msg': 'key ******** rejected', 'after': {'name': 'agt_********', 'tags': ['Bearer ********', 7, None, True]}}


def test_lines_are_redacted():
    result = {'msg': 'POST failed: Bearer pk_test_acme_0001 echoed, token %s' % TOKEN, 'changed': False}
    (line,) = build_lines(CONTEXT, result, failed=True, secrets=['pk_test_acme_0001'])
    assert line['message'] == 'POST failed: Bearer ******** echoed, token agt_********'


# ---- appending ----

@pytest.mark.parametrize('mask', [0o000, 0o022, 0o277], ids=['umask 000', 'umask 022', 'umask 277'])
def test_a_new_file_is_created_with_mode_0600_whatever_the_umask(tmp_path, mask):
    path = tmp_path / 'audit.jsonl'
    with Umask(mask):
        append_line(str(path), b'{"a": 1}\n')
    assert mode_of(path) == 0o600
    assert path.read_bytes() == b'{"a": 1}\n'


def test_an_existing_file_is_appended_to_and_keeps_its_mode(tmp_path):
    path = tmp_path / 'audit.jsonl'
    path.write_bytes(b'{"old": true}\n')
    path.chmod(0o640)
    append_line(str(path), b'{"new": true}\n')
    assert path.read_bytes() == b'{"old": true}\n{"new": true}\n'
    assert mode_of(path) == 0o640


def test_each_line_is_one_json_object_and_text_stays_readable(tmp_path):
    path = tmp_path / 'audit.jsonl'
    log = AuditLog(str(path), warn=pytest.fail)
    log.append({'agent_name': 'सहायक-agent', 'message': 'two\nlines'})
    log.append({'agent_name': 'second'})
    assert read_lines(path) == [{'agent_name': 'सहायक-agent', 'message': 'two\nlines'}, {'agent_name': 'second'}]
    assert 'सहायक'.encode('utf-8') in path.read_bytes()


def test_an_unwritable_file_warns_once_and_the_next_writable_moment_is_used(tmp_path):
    blocker = tmp_path / 'blocker'
    blocker.write_text('a file where a directory should be')
    path = blocker / 'audit.jsonl'
    warnings = []
    log = AuditLog(str(path), warn=warnings.append)
    for number in range(3):
        log.append({'n': number})
    assert len(warnings) == 1
    assert str(path) in warnings[0] and 'cannot write' in warnings[0]

    blocker.unlink()
    blocker.mkdir()
    log.append({'n': 3})
    assert read_lines(path) == [{'n': 3}]
    assert len(warnings) == 1


def big_line(writer, number):
    # Lines far larger than a pipe buffer or a stdio buffer, so that a line written in pieces would show.
    return {'writer': writer, 'n': number, 'pad': ('%s-%d-' % (writer, number)) * 12000}


def append_many(path, writer, count):
    log = AuditLog(path, warn=pytest.fail)
    for number in range(count):
        log.append(big_line(writer, number))


def check_every_line_whole(path, writers, count):
    lines = read_lines(path)
    assert sorted((line['writer'], line['n']) for line in lines) == sorted((writer, n) for writer in writers for n in range(count))
    assert all(line == big_line(line['writer'], line['n']) for line in lines)


def test_parallel_processes_never_interleave_or_lose_lines(tmp_path):
    path = str(tmp_path / 'audit.jsonl')
    writers = ['p%d' % number for number in range(8)]
    context = multiprocessing.get_context('fork')
    processes = [context.Process(target=append_many, args=(path, writer, 25)) for writer in writers]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * len(writers)
    check_every_line_whole(path, writers, 25)
    assert mode_of(path) == 0o600


def test_threads_sharing_one_log_never_interleave_or_lose_lines(tmp_path):
    path = str(tmp_path / 'audit.jsonl')
    log = AuditLog(path, warn=pytest.fail)
    writers = ['t%d' % number for number in range(6)]

    def work(writer):
        for number in range(40):
            log.append(big_line(writer, number))

    threads = [threading.Thread(target=work, args=(writer,)) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    check_every_line_whole(path, writers, 40)


# ---- the callback plugin ----

class Stub:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def task_result(action, data, host='node01', task='Ensure the agent', check_mode=False):
    """What the plugin reads of Ansible's CallbackTaskResult, and nothing else."""
    return Stub(task=Stub(resolved_action=action), result=data, host=Stub(get_name=lambda: host), task_name=task,
                task_fields={'check_mode': check_mode})


CREATE = {'changed': True, 'operations': [
    {'op': 'create', 'resource': 'agent', 'id': 'agent_1', 'name': 'prod-support-agent', 'before': None, 'after': AGENT_BEFORE}]}


def command_line(monkeypatch, *playbooks):
    """The ansible-playbook command line the plugin reads its playbooks from (context.CLIARGS, public)."""
    monkeypatch.setattr(context, 'CLIARGS', CLIArgs({'args': playbooks, 'check': False}))


@pytest.fixture
def plugin_factory(tmp_path, monkeypatch):
    monkeypatch.setenv('PIOPIY_AUDIT_LOG', str(tmp_path / 'audit.jsonl'))
    monkeypatch.delenv('PIOPIY_API_KEY', raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'site.yml').write_text('[]\n')
    command_line(monkeypatch, 'site.yml')

    def make():
        plugin = callback_loader.get('piopiy.voice.audit')
        plugin.set_options()
        plugin.v2_playbook_on_start(Stub())  # nothing private of the Playbook object is read
        plugin.v2_playbook_on_play_start(Stub(get_name=lambda: 'Support'))
        return plugin
    return make


def test_the_plugin_is_enabled_only_on_request():
    plugin_class = callback_loader.get('piopiy.voice.audit', class_only=True)
    assert (plugin_class.CALLBACK_NEEDS_ENABLED, plugin_class.CALLBACK_TYPE, plugin_class.CALLBACK_NAME) == (True, 'notification', 'piopiy.voice.audit')


def test_the_default_audit_log_is_in_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.delenv('PIOPIY_AUDIT_LOG', raising=False)
    monkeypatch.chdir(tmp_path)
    plugin = callback_loader.get('piopiy.voice.audit')
    plugin.set_options()
    assert plugin.get_option('audit_log') == str(tmp_path / 'piopiy-audit.jsonl')


def test_the_plugin_writes_the_lines_of_piopiy_results_only(plugin_factory, tmp_path):
    plugin = plugin_factory()
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    plugin.v2_runner_on_ok(task_result('ansible.builtin.debug', {'msg': 'hello'}))
    plugin.v2_runner_on_failed(task_result('piopiy.voice.piopiy_agent_info', {'msg': 'Bearer pk_test_acme_0001 refused'}, host='node02'),
                               ignore_errors=True)
    (created, failed) = read_lines(tmp_path / 'audit.jsonl')
    assert (created['playbook'], created['play'], created['host'], created['task']) == (str(tmp_path / 'site.yml'), 'Support', 'node01', 'Ensure the agent')
    assert (created['module'], created['operation'], created['check_mode'], created['agent_id']) == ('piopiy.voice.piopiy_agent', 'create', False, 'agent_1')
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', created['time'])
    assert (failed['host'], failed['module'], failed['operation'], failed['failed']) == ('node02', 'piopiy.voice.piopiy_agent_info', 'none', True)
    assert failed['message'] == 'Bearer ******** refused'
    assert created['run_id'] == failed['run_id']
    assert created['user'] and created['user'] == failed['user']


def test_each_playbook_of_the_command_line_is_named_in_turn(plugin_factory, tmp_path, monkeypatch):
    command_line(monkeypatch, 'site.yml', 'piopiy.voice.support_agent')
    plugin = plugin_factory()
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    plugin.v2_playbook_on_start(Stub())
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    first, second = read_lines(tmp_path / 'audit.jsonl')
    assert (first['playbook'], second['playbook']) == (str(tmp_path / 'site.yml'), 'piopiy.voice.support_agent')


def test_a_task_in_check_mode_gives_no_line_by_default(plugin_factory, tmp_path):
    plugin = plugin_factory()
    assert plugin.get_option('record_check_mode') is False
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE, check_mode=True))
    plugin.v2_runner_item_on_ok(task_result('piopiy.voice.piopiy_agent', dict(CREATE, item='x'), check_mode=True))
    plugin.v2_runner_on_failed(task_result('piopiy.voice.piopiy_agent', {'msg': 'too many route changes'}, check_mode=True))
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE, host='node02'))
    (line,) = read_lines(tmp_path / 'audit.jsonl')
    assert (line['host'], line['operation'], line['check_mode']) == ('node02', 'create', False)


def test_record_check_mode_records_the_planned_operations_marked(plugin_factory, tmp_path, monkeypatch):
    monkeypatch.setenv('PIOPIY_AUDIT_RECORD_CHECK_MODE', 'true')
    plugin = plugin_factory()
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE, check_mode=True))
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE, host='node02'))
    planned, done = read_lines(tmp_path / 'audit.jsonl')
    assert (planned['host'], planned['operation'], planned['check_mode']) == ('node01', 'create', True)
    assert (done['host'], done['operation'], done['check_mode']) == ('node02', 'create', False)


def test_loop_items_are_audited_and_the_loop_summary_is_not(plugin_factory, tmp_path):
    plugin = plugin_factory()
    plugin.v2_runner_item_on_ok(task_result('piopiy.voice.piopiy_agent', dict(CREATE, item='prod-support-agent')))
    plugin.v2_runner_item_on_failed(task_result('piopiy.voice.piopiy_agent', {'msg': 'no agent with id x', 'item': 'x'}))
    plugin.v2_runner_on_failed(task_result('piopiy.voice.piopiy_agent', {'changed': True, 'results': [CREATE, {'msg': 'no agent'}]}))
    lines = read_lines(tmp_path / 'audit.jsonl')
    assert [(line['operation'], line['failed'], line['message']) for line in lines] == [
        ('create', False, None), ('none', True, 'no agent with id x')]


def test_each_run_has_its_own_run_id(plugin_factory, tmp_path):
    first, second = plugin_factory(), plugin_factory()
    first.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    second.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    first.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    ids = [line['run_id'] for line in read_lines(tmp_path / 'audit.jsonl')]
    assert ids[0] == ids[2] != ids[1]


def test_the_api_key_of_the_environment_is_redacted(plugin_factory, tmp_path, monkeypatch):
    monkeypatch.setenv('PIOPIY_API_KEY', 'acme-key-42')
    plugin = plugin_factory()
    plugin.v2_runner_on_failed(task_result('piopiy.voice.piopiy_agent', {'msg': 'key acme-key-42 is disabled'}))
    (line,) = read_lines(tmp_path / 'audit.jsonl')
    assert line['message'] == 'key ******** is disabled'


def warnings_of_three_results(monkeypatch):
    """The warnings a freshly configured plugin gives for three results in a row."""
    warnings = []
    plugin = callback_loader.get('piopiy.voice.audit')
    monkeypatch.setattr(plugin._display, 'warning', warnings.append)
    plugin.set_options()
    for unused in range(3):
        plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    return warnings


def test_an_unwritable_audit_log_makes_the_plugin_warn_once(plugin_factory, tmp_path, monkeypatch):
    (tmp_path / 'blocker').write_text('')
    monkeypatch.setenv('PIOPIY_AUDIT_LOG', str(tmp_path / 'blocker' / 'audit.jsonl'))
    warnings = warnings_of_three_results(monkeypatch)
    assert len(warnings) == 1 and 'piopiy.voice.audit cannot write' in warnings[0]


# ---- ansible-core 2.16 to 2.18 ----

def old_task_result(action, data, host='node01', task='Ensure the agent', check_mode=False):
    """What ansible-core 2.16 to 2.18 pass: a TaskResult with private attributes and a public task_name."""
    return Stub(_task=Stub(resolved_action=action), _result=data, _host=Stub(get_name=lambda: host), task_name=task,
                _task_fields={'check_mode': check_mode})


def test_the_task_results_of_older_cores_are_audited_like_new_ones(plugin_factory, tmp_path):
    plugin = plugin_factory()
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    plugin.v2_runner_on_ok(old_task_result('piopiy.voice.piopiy_agent', CREATE))
    plugin.v2_runner_on_ok(old_task_result('piopiy.voice.piopiy_agent', CREATE, check_mode=True))  # no line, as on new cores
    plugin.v2_runner_item_on_failed(old_task_result('piopiy.voice.piopiy_agent', {'msg': 'no agent', 'item': 'x'}, host='node02'))
    new, old, failed = read_lines(tmp_path / 'audit.jsonl')
    assert dict(new, time=None) == dict(old, time=None)
    assert (failed['host'], failed['operation'], failed['failed'], failed['message']) == ('node02', 'none', True, 'no agent')


# ---- syslog and the run's own output ----

@pytest.mark.parametrize('address, expected', [
    ('/dev/log', '/dev/log'),
    ('syslog.example.com:514', ('syslog.example.com', 514)),
    ('127.0.0.1:5514', ('127.0.0.1', 5514)),
    ('[::1]:514', ('::1', 514)),
])
def test_a_syslog_address_is_a_socket_path_or_host_and_port(address, expected):
    assert parse_syslog_address(address) == expected


@pytest.mark.parametrize('address', ['syslog.example.com', ':514', 'host:port'])
def test_a_syslog_address_that_is_neither_is_refused_with_both_forms_named(address):
    with pytest.raises(ValueError, match=r'/dev/log.*host:port'):
        parse_syslog_address(address)


@pytest.fixture
def udp_syslog():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(('127.0.0.1', 0))
        server.settimeout(10)
        yield server


def received(server, count):
    return [server.recvfrom(65536)[0].decode('utf-8') for unused in range(count)]


def test_syslog_gets_each_line_the_file_gets(plugin_factory, tmp_path, monkeypatch, udp_syslog):
    monkeypatch.setenv('PIOPIY_AUDIT_SYSLOG', 'true')
    monkeypatch.setenv('PIOPIY_AUDIT_SYSLOG_ADDRESS', '127.0.0.1:%d' % udp_syslog.getsockname()[1])
    monkeypatch.setenv('PIOPIY_AUDIT_SYSLOG_FACILITY', 'local3')
    plugin = plugin_factory()
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    plugin.v2_runner_on_failed(task_result('piopiy.voice.piopiy_agent', {'msg': 'Bearer pk_test_acme_0001 refused'}))
    messages = received(udp_syslog, 2)
    # local3 is facility 19; info is severity 6: priority 19 * 8 + 6.
    assert all(message.startswith('<158>piopiy.voice.audit: {') for message in messages)
    assert [json.loads(message.split(': ', 1)[1]) for message in messages] == read_lines(tmp_path / 'audit.jsonl')
    assert 'pk_test_acme_0001' not in ''.join(messages)


def test_syslog_reaches_a_local_socket_with_the_user_facility_by_default(plugin_factory, tmp_path, monkeypatch):
    path = str(tmp_path / 'log.sock')
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(10)
        monkeypatch.setenv('PIOPIY_AUDIT_SYSLOG', 'true')
        monkeypatch.setenv('PIOPIY_AUDIT_SYSLOG_ADDRESS', path)
        plugin_factory().v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
        (message,) = received(server, 1)
    assert message.startswith('<14>piopiy.voice.audit: ')
    assert json.loads(message.split(': ', 1)[1]) == read_lines(tmp_path / 'audit.jsonl')[0]


def test_an_unreachable_syslog_warns_once_and_the_file_still_gets_every_line(tmp_path, monkeypatch):
    monkeypatch.setenv('PIOPIY_AUDIT_LOG', str(tmp_path / 'audit.jsonl'))
    monkeypatch.setenv('PIOPIY_AUDIT_SYSLOG', 'true')
    monkeypatch.setenv('PIOPIY_AUDIT_SYSLOG_ADDRESS', str(tmp_path / 'no-such.sock'))
    warnings = warnings_of_three_results(monkeypatch)
    assert len(warnings) == 1 and 'cannot send to syslog at %s' % (tmp_path / 'no-such.sock') in warnings[0]
    assert len(read_lines(tmp_path / 'audit.jsonl')) == 3


def test_the_run_output_gets_each_line_when_asked(plugin_factory, tmp_path, monkeypatch):
    monkeypatch.setenv('PIOPIY_AUDIT_DISPLAY', 'true')
    plugin = plugin_factory()
    shown = []
    plugin.sinks[-1].display = shown.append
    plugin.v2_runner_on_ok(task_result('piopiy.voice.piopiy_agent', CREATE))
    (text,) = shown
    assert text.startswith('piopiy.voice.audit: ')
    assert [json.loads(text.split(': ', 1)[1])] == read_lines(tmp_path / 'audit.jsonl')


def test_syslog_and_the_run_output_are_off_by_default(plugin_factory, monkeypatch):
    for name in ('PIOPIY_AUDIT_SYSLOG', 'PIOPIY_AUDIT_DISPLAY'):
        monkeypatch.delenv(name, raising=False)
    assert [type(sink).__name__ for sink in plugin_factory().sinks] == ['AuditLog']
