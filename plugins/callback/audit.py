# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: audit
type: notification
short_description: Append an audit line for every change piopiy.voice modules make
version_added: 0.1.0
description:
  - Appends one JSON object a line (JSON Lines) to O(audit_log) for every task result of a C(piopiy.voice) module,
    so that who changed which agent or phone number route, when, and from what to what, is on record.
  - A task result gives one line per item of the module's C(operations) return value, one per create, update, delete,
    map or unmap it did. A result with no operations gives no line when it neither failed nor changed anything (an info
    module, a task with nothing to change); the trail holds changes, not reads. A result with no operations that failed
    (a refusal, an API error, a failure before any write) or that changed something it does not list (a result hidden
    by C(no_log)) gives one line with C(operation=none) and the reason in C(message).
    Each item of a loop is a task result of its own. Skipped and unreachable results give no line.
  - A task in check mode (the run's C(--check), or the task's C(check_mode) keyword, such as the pre-flight of
    C(support_agent_max_route_changes_per_run)) writes nothing, and by default gives no line, so that the trail holds
    what was done, not what was planned. O(record_check_mode) records its planned operations too, marked C(check_mode=true).
  - Lines are built from C(operations) and a few task fields only, never from the module arguments, so neither the
    API key nor an agent token is written. Strings are also scrubbed of C(Bearer) credentials, C(agt_) agent tokens,
    values shaped like Piopiy API keys (C(pk_live_), C(pk_test_)) and the value of E(PIOPIY_API_KEY).
    Secrets are removed in every form they can take in text (raw, JSON-escaped, URL-encoded, re-decoded).
    A result hidden with C(no_log) stays hidden; when it changed something or failed, it gives one C(operation=none) line whose
    C(message) says so.
  - Each line is appended with a single write to the file opened in append mode, so the forks of a run and several
    runs at once can share one file without interleaving or losing lines. A file the plugin creates has mode C(0600).
  - A file that cannot be written makes the plugin warn once per run; the play goes on.
  - Besides the file, each line can go to syslog (O(audit_syslog)) and into the run's own output (O(audit_display)),
    which AWX and Ansible Automation Platform keep with the job.
  - Works with ansible-core 2.16 and later.
  - "The fields of a line, in this order: C(time) (UTC, ISO 8601, such as C(2025-01-31T09:15:02.123Z)),
    C(run_id) (a random id shared by every line of one C(ansible-playbook) run), C(playbook) (the playbook as named on the
    C(ansible-playbook) command line: the absolute path of a playbook file, or a collection playbook's name such as
    C(piopiy.voice.support_agent); null when the run has no command line), C(play), C(host),
    C(task) (the task name), C(module) (the fully qualified module name), C(operation) (C(create), C(update),
    C(delete), C(map), C(unmap), C(buy), C(release) or C(none)), C(resource) (C(agent), C(route), C(phone_number),
    or null with C(operation=none)),
    C(agent_id) (for a route, the agent it points to after a map or before an unmap), C(agent_name) (agents only),
    C(phone_number) (routes and phone numbers), C(before) and C(after) (the resource before and after the operation, null when it
    did not or does not exist), C(check_mode) (the task's effective check mode, from C(--check) or its C(check_mode)
    keyword; true only with O(record_check_mode)), C(changed), C(failed),
    C(message) (the failure message, the no_log notice for a hidden result, else null), C(user) (the operating-system
    user running Ansible), and C(rotation_id) (the credential rotation the operation belongs to, from the task's
    C(rotation_id), else null)."
author:
  - piopiy.voice maintainers (@piopiy-voice)
requirements:
  - enable in configuration, with C(callbacks_enabled = piopiy.voice.audit) in the C([defaults]) section of
    C(ansible.cfg), or C(ANSIBLE_CALLBACKS_ENABLED=piopiy.voice.audit) in the environment
options:
  audit_log:
    description:
      - The file the audit lines are appended to. It is created when missing; its directory is not.
      - A relative path set in C(ansible.cfg) is relative to the directory of that file; otherwise to the
        current directory.
      - In an execution environment the container's files go with the container, so point this at a mounted volume,
        or use O(audit_syslog) or O(audit_display) as well.
    type: path
    default: ./piopiy-audit.jsonl
    env:
      - name: PIOPIY_AUDIT_LOG
    ini:
      - section: callback_piopiy_audit
        key: audit_log
  audit_syslog:
    description:
      - Also send every audit line to syslog, as one message of severity C(info) made of the tag C(piopiy.voice.audit:) and the JSON line,
        so that a log collector keeps the trail when the controller or execution environment is gone.
      - A syslog that cannot be reached makes the plugin warn once per run; the play goes on.
    type: bool
    default: false
    env:
      - name: PIOPIY_AUDIT_SYSLOG
    ini:
      - section: callback_piopiy_audit
        key: audit_syslog
  audit_syslog_address:
    description:
      - Where O(audit_syslog) sends its messages; a local socket path such as C(/dev/log), or C(host:port) for
        a syslog server over UDP (C([host]:port) for an IPv6 address).
    type: str
    default: /dev/log
    env:
      - name: PIOPIY_AUDIT_SYSLOG_ADDRESS
    ini:
      - section: callback_piopiy_audit
        key: audit_syslog_address
  audit_syslog_facility:
    description:
      - The syslog facility of the messages of O(audit_syslog).
    type: str
    default: user
    choices: [kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp,
              local0, local1, local2, local3, local4, local5, local6, local7]
    env:
      - name: PIOPIY_AUDIT_SYSLOG_FACILITY
    ini:
      - section: callback_piopiy_audit
        key: audit_syslog_facility
  record_check_mode:
    description:
      - Also record the results of tasks in check mode, one line per operation the task would do, marked
        C(check_mode=true), for those who want planned changes in the trail. By default a check run records nothing.
    type: bool
    default: false
    version_added: 0.1.0
    env:
      - name: PIOPIY_AUDIT_RECORD_CHECK_MODE
    ini:
      - section: callback_piopiy_audit
        key: record_check_mode
  audit_display:
    description:
      - Also print every audit line in the run's own output, at every verbosity, after the tag C(piopiy.voice.audit:).
      - AWX and Ansible Automation Platform keep a job's output as its job events, so the trail stays with the job
        and goes wherever the job's events and logs go; C(ansible-runner) keeps it in its C(job_events) and C(stdout) artifacts.
    type: bool
    default: false
    env:
      - name: PIOPIY_AUDIT_DISPLAY
    ini:
      - section: callback_piopiy_audit
        key: audit_display
notes:
  - With O(audit_log) on a local file system every line is written whole. Network file systems such as NFS do not
    promise atomic appends from several machines; give each controller its own file there.
  - A task started with C(async) and C(poll=0) lists no operations when it starts (a line only if that start reports a
    change or a failure); its outcome comes from C(ansible.builtin.async_status), which is not a C(piopiy.voice) module.
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = piopiy.voice.audit
#
# [callback_piopiy_audit]
# audit_log = /var/log/piopiy/audit.jsonl

# A line, wrapped here:
# {"time": "2025-01-31T09:15:02.123Z", "run_id": "6f1c...", "playbook": "/srv/ansible/site.yml", "play": "Support agents",
#  "host": "localhost", "task": "Create the agent", "module": "piopiy.voice.piopiy_agent", "operation": "create",
#  "resource": "agent", "agent_id": "agent_9x2d41c7", "agent_name": "prod-support-agent", "phone_number": null,
#  "before": null, "after": {"id": "agent_9x2d41c7", "name": "prod-support-agent", "language": "en-US", "status": "active"},
#  "check_mode": false, "changed": true, "failed": false, "message": null, "user": "deploy"}

# In AWX or an execution environment, where the controller's files go with the container:
# keep the trail with the job's events and send it to the site's syslog relay as well.
# [callback_piopiy_audit]
# audit_display = true
# audit_syslog = true
# audit_syslog_address = syslog.example.com:514
# audit_syslog_facility = local3
"""

import datetime
import getpass
import json
import os
import socket
import threading
import uuid

from ansible import context
from ansible.plugins.callback import CallbackBase

# The collection's one redaction, so that one definition of what a secret looks like serves the HTTP client
# and this last line of defence on the controller.
from ansible_collections.piopiy.voice.plugins.module_utils.client_redact import redact_data
from ansible_collections.piopiy.voice.plugins.plugin_utils.task_results import environment_secrets, piopiy_result_parts

FIELDS = ('time', 'run_id', 'playbook', 'play', 'host', 'task', 'module', 'operation', 'resource', 'agent_id', 'agent_name',
          'phone_number', 'before', 'after', 'check_mode', 'changed', 'failed', 'message', 'user', 'rotation_id')


def describe(operation):
    """The resource fields of a line, from one item of a module's `operations`."""
    resource = operation.get('resource')
    is_agent = resource == 'agent'
    return {
        'operation': operation.get('op'),
        'resource': resource,
        'agent_id': operation.get('id') if is_agent else operation.get('agent_id'),
        'agent_name': operation.get('name') if is_agent else None,
        'phone_number': operation.get('phone_number'),
        'before': operation.get('before'),
        'after': operation.get('after'),
    }


def result_message(result, failed):
    """The failure message; for a result hidden by no_log, Ansible's notice, so the line does not imply nothing happened."""
    if 'censored' in result:
        return str(result['censored'])
    if failed and result.get('msg') is not None:
        return str(result['msg'])
    return None


def build_lines(fields, result, failed, secrets=()):
    """The audit lines of one task result: one per operation; without operations, one with operation `none` if the result
    failed or changed something it does not list (hidden by no_log), else none: a read or a no-op is not a change.

    fields holds the fields that do not come from the result (time, run_id, playbook, play, host, task,
    module, check_mode, user). Only `operations`, `changed`, `msg` and `rotation_id` are read from the result.
    """
    operations = [item for item in result.get('operations') or [] if isinstance(item, dict)]
    changed = bool(result.get('changed'))
    if not operations and not failed and not changed:
        return []
    common = dict(fields, changed=changed, failed=failed, message=result_message(result, failed),
                  rotation_id=result.get('rotation_id'))
    described = [describe(item) for item in operations] or [{'operation': 'none'}]
    return [redact_data(in_field_order(dict(common, **line)), secrets) for line in described]


def in_field_order(values):
    """Every field of a line, in the documented order; a field without a value is null."""
    return dict((field, values.get(field)) for field in FIELDS)


def command_line_playbook(index):
    """The index-th playbook of the ansible-playbook command line, as an absolute path when it names a file, else as given
    (a collection playbook such as piopiy.voice.support_agent); None without a command line.

    ansible-core has no public attribute for the file of a Playbook object (only the private `_file_name`), but its
    command line arguments are public (context.CLIARGS), and ansible-playbook starts its playbooks in their order there.
    """
    playbooks = context.CLIARGS.get('args') or ()
    if not 0 <= index < len(playbooks):
        return None
    playbook = playbooks[index]
    return os.path.abspath(playbook) if os.path.exists(playbook) else playbook


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def os_user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry, as in some containers
        return str(os.getuid())


def append_line(path, data):
    """Append data with one write, creating the file with mode 0600 if it is missing.

    O_APPEND makes the kernel place every write at the current end of file, so lines from parallel
    writers neither overwrite nor split each other.
    """
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, 'O_CLOEXEC', 0)
    try:
        descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(descriptor, 0o600)  # the umask may have cleared bits of the mode given to open
    except FileExistsError:
        descriptor = os.open(path, flags)
    try:
        written = os.write(descriptor, data)
    finally:
        os.close(descriptor)
    if written != len(data):
        raise OSError('only %d of %d bytes were written (is the disk full?)' % (written, len(data)))


class AuditLog:
    """The audit file: appends lines, and turns the first failure to write into a warning."""

    def __init__(self, path, warn):
        self.path = path
        self.warn = warn
        self.warned = False
        # Item results arrive on the strategy's results thread, other results on the main thread.
        self.lock = threading.Lock()

    def append(self, line):
        data = (as_json(line) + '\n').encode('utf-8')
        with self.lock:
            try:
                append_line(self.path, data)
            except OSError as error:
                if not self.warned:
                    self.warned = True
                    self.warn('piopiy.voice.audit cannot write the audit log %s (%s): this run is not audited there' % (self.path, error))


SYSLOG_FACILITIES = dict(kern=0, user=1, mail=2, daemon=3, auth=4, syslog=5, lpr=6, news=7, uucp=8, cron=9, authpriv=10, ftp=11,
                         **dict(('local%d' % number, 16 + number) for number in range(8)))
SYSLOG_SEVERITY_INFO = 6
RECORD_TAG = 'piopiy.voice.audit: '


def as_json(line):
    return json.dumps(line, default=str, ensure_ascii=False)


def parse_syslog_address(address):
    """A socket path (it contains a slash) as is, or host:port (host in brackets for IPv6) as (host, port) for UDP."""
    if '/' in address:
        return address
    host, separator, port = address.rpartition(':')
    if not separator or not host or not port.isdigit():
        raise ValueError('audit_syslog_address %r is neither a socket path such as /dev/log nor host:port '
                         'such as syslog.example.com:514' % address)
    return host.strip('[]'), int(port)


def send_syslog(address, facility, message):
    """Send one syslog datagram (<priority>message, as the standard library's SysLogHandler does) to address."""
    data = ('<%d>%s' % (SYSLOG_FACILITIES[facility] * 8 + SYSLOG_SEVERITY_INFO, message)).encode('utf-8')
    if isinstance(address, str):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unix_socket:
            unix_socket.connect(address)
            unix_socket.send(data)
        return
    family, kind, protocol, unused, target = socket.getaddrinfo(address[0], address[1], 0, socket.SOCK_DGRAM)[0]
    with socket.socket(family, kind, protocol) as udp_socket:
        udp_socket.sendto(data, target)


class SyslogSink:
    """Sends each line to syslog; the first failure to send becomes a warning, as for the file."""

    def __init__(self, address, facility, warn):
        self.address = address
        self.facility = facility
        self.warn = warn
        self.warned = False

    def append(self, line):
        try:
            send_syslog(parse_syslog_address(self.address), self.facility, RECORD_TAG + as_json(line))
        except (OSError, ValueError) as error:
            if not self.warned:
                self.warned = True
                self.warn('piopiy.voice.audit cannot send to syslog at %s (%s): this run is not audited there' % (self.address, error))


class DisplaySink:
    """Prints each line in the run's output at every verbosity, where AWX keeps it among the job's events."""

    def __init__(self, display):
        self.display = display

    def append(self, line):
        self.display(RECORD_TAG + as_json(line))


class CallbackModule(CallbackBase):
    """Writes the audit trail of piopiy.voice tasks, one JSON line per operation."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'piopiy.voice.audit'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_id = uuid.uuid4().hex
        self.user = os_user()
        self.secrets = environment_secrets()
        self.playbook = None
        self.playbooks_started = 0
        self.play = None
        self.sinks = []
        self.record_check_mode = False

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.record_check_mode = self.get_option('record_check_mode')
        self.sinks = [AuditLog(self.get_option('audit_log'), self._display.warning)]
        if self.get_option('audit_syslog'):
            self.sinks.append(SyslogSink(self.get_option('audit_syslog_address'), self.get_option('audit_syslog_facility'),
                                         self._display.warning))
        if self.get_option('audit_display'):
            self.sinks.append(DisplaySink(self._display.display))

    def v2_playbook_on_start(self, playbook):
        self.playbook = command_line_playbook(self.playbooks_started)
        self.playbooks_started += 1

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()

    def v2_runner_on_ok(self, result):
        self.audit(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.audit(result, failed=True)

    def v2_runner_item_on_ok(self, result):
        self.audit(result, failed=False)

    def v2_runner_item_on_failed(self, result):
        self.audit(result, failed=True)

    def audit(self, result, failed):
        parts = piopiy_result_parts(result)
        if parts is None:
            return
        task, host, data, task_fields = parts
        check_mode = bool(task_fields.get('check_mode'))
        if check_mode and not self.record_check_mode:
            return  # a plan, not a change: the trail holds what was done
        fields = {
            'time': utc_now(),
            'run_id': self.run_id,
            'playbook': self.playbook,
            'play': self.play,
            'host': host.get_name(),
            'task': result.task_name,
            'module': task.resolved_action,
            'check_mode': check_mode,
            'user': self.user,
        }
        for line in build_lines(fields, data, failed, self.secrets):
            for sink in self.sinks:
                sink.append(line)
