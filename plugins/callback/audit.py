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
    in check mode too, so that who changed which agent or phone number route, when, and from what to what, is on record.
  - A task result gives one line per item of the module's C(operations) return value, one per write it did
    (or in check mode would do). A result with no operations (nothing to change, an info module, or a failure
    before any write) gives one line with C(operation=none). Each item of a loop is a task result of its own.
    Skipped and unreachable results give no line.
  - Lines are built from C(operations) and a few task fields only, never from the module arguments, so neither the
    API key nor an agent token is written. Strings are also scrubbed of C(Bearer) credentials, C(agt_) agent tokens,
    values shaped like Piopiy API keys (C(pk_live_), C(pk_test_)) and the value of E(PIOPIY_API_KEY).
    A result hidden with C(no_log) stays hidden; it gives one C(operation=none) line whose C(message) says so.
  - Each line is appended with a single write to the file opened in append mode, so the forks of a run and several
    runs at once can share one file without interleaving or losing lines. A file the plugin creates has mode C(0600).
  - A file that cannot be written makes the plugin warn once per run; the play goes on.
  - "The fields of a line, in this order: C(time) (UTC, ISO 8601, such as C(2025-01-31T09:15:02.123Z)),
    C(run_id) (a random id shared by every line of one C(ansible-playbook) run), C(playbook) (its absolute path), C(play), C(host),
    C(task) (the task name), C(module) (the fully qualified module name), C(operation) (C(create), C(update),
    C(delete), C(map), C(unmap) or C(none)), C(resource) (C(agent), C(route), or null with C(operation=none)),
    C(agent_id) (for a route, the agent it points to after a map or before an unmap), C(agent_name) (agents only),
    C(phone_number) (routes only), C(before) and C(after) (the resource before and after the operation, null when it
    did not or does not exist), C(check_mode) (the task's effective check mode, from C(--check) or its C(check_mode)
    keyword), C(changed), C(failed),
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
    type: path
    default: ./piopiy-audit.jsonl
    env:
      - name: PIOPIY_AUDIT_LOG
    ini:
      - section: callback_piopiy_audit
        key: audit_log
notes:
  - With O(audit_log) on a local file system every line is written whole. Network file systems such as NFS do not
    promise atomic appends from several machines; give each controller its own file there.
  - A task started with C(async) and C(poll=0) is audited when it starts, with C(operation=none); its outcome comes
    from C(ansible.builtin.async_status), which is not a C(piopiy.voice) module.
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
"""

import datetime
import getpass
import json
import os
import threading
import uuid

from ansible.plugins.callback import CallbackBase

# The client's redaction, so that one definition of what a secret looks like serves the modules
# and this last line of defence on the controller.
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import redact as redact_text

COLLECTION_PREFIX = 'piopiy.voice.'
FIELDS = ('time', 'run_id', 'playbook', 'play', 'host', 'task', 'module', 'operation', 'resource', 'agent_id', 'agent_name',
          'phone_number', 'before', 'after', 'check_mode', 'changed', 'failed', 'message', 'user', 'rotation_id')


def redact(value, secrets=()):
    """value with every string in it scrubbed of credentials, at any depth."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return dict((key, redact(item, secrets)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    return value


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


def build_lines(context, result, failed, secrets=()):
    """The audit lines of one task result: one per operation, or one with operation `none`.

    context holds the fields that do not come from the result (time, run_id, playbook, play, host, task,
    module, check_mode, user). Only `operations`, `changed`, `msg` and `rotation_id` are read from the result.
    """
    operations = [item for item in result.get('operations') or [] if isinstance(item, dict)]
    common = dict(context, changed=bool(result.get('changed')), failed=failed, message=result_message(result, failed),
                  rotation_id=result.get('rotation_id'))
    described = [describe(item) for item in operations] or [{'operation': 'none'}]
    return [redact(in_field_order(dict(common, **fields)), secrets) for fields in described]


def in_field_order(values):
    """Every field of a line, in the documented order; a field without a value is null."""
    return dict((field, values.get(field)) for field in FIELDS)


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
        data = (json.dumps(line, default=str, ensure_ascii=False) + '\n').encode('utf-8')
        with self.lock:
            try:
                append_line(self.path, data)
            except OSError as error:
                if not self.warned:
                    self.warned = True
                    self.warn('piopiy.voice.audit cannot write the audit log %s (%s): this run is not audited there' % (self.path, error))


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
        self.secrets = [key for key in (os.environ.get('PIOPIY_API_KEY'),) if key]
        self.playbook = None
        self.play = None
        self.log = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.log = AuditLog(self.get_option('audit_log'), self._display.warning)

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.abspath(playbook._file_name)

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
        module = result.task.resolved_action or ''
        data = result.result
        # A loop's summary result repeats what its items, audited one by one, already said.
        if not module.startswith(COLLECTION_PREFIX) or isinstance(data.get('results'), list):
            return
        context = {
            'time': utc_now(),
            'run_id': self.run_id,
            'playbook': self.playbook,
            'play': self.play,
            'host': result.host.get_name(),
            'task': result.task_name,
            'module': module,
            'check_mode': bool(result.task_fields.get('check_mode')),
            'user': self.user,
        }
        for line in build_lines(context, data, failed, self.secrets):
            self.log.append(line)
