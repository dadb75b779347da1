# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shared base of piopiy.voice modules.

`piopiy_module()` builds an AnsibleModule with the connection options and a
client. `PiopiyResource` is the desired-state engine: lookup, compare, check
mode, diff, create, update and delete. A resource module declares its fields
and a few hooks; every write goes through `PiopiyResource.write`, which does
nothing in check mode, and every write is recorded in `operations`.
"""

from __future__ import annotations

import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import (
    DEFAULT_API_BASE,
    E164,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    PiopiyAPIError,
    PiopiyClient,
    insecure_transport_warning,
)


HUMAN_NUMBER_SEPARATORS = re.compile(r'[\s().-]')
AGENT_FIELDS = ('id', 'name', 'language', 'status')
ROUTE_FIELDS = ('phone_number', 'route_type', 'agent_id', 'status')
MAX_PARALLEL_REQUESTS = 64


def normalize_agent(raw):
    """An agent as the collection returns and compares it: exactly these fields, never the token."""
    return dict((field, raw.get(field)) for field in AGENT_FIELDS) if raw else None


def normalize_route(raw):
    return dict((field, raw.get(field)) for field in ROUTE_FIELDS) if raw else None


def connection_argument_spec():
    return dict(
        api_key=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['PIOPIY_API_KEY'])),
        api_base=dict(type='str', default=DEFAULT_API_BASE, fallback=(env_fallback, ['PIOPIY_API_BASE'])),
        timeout=dict(type='float', default=30.0),
        validate_certs=dict(type='bool', default=True),
    )


def piopiy_module(argument_spec, **kwargs):
    """An AnsibleModule with the connection options, check mode, and requests present."""
    spec = connection_argument_spec()
    spec.update(argument_spec)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    if not module.params['api_key'].strip():
        module.fail_json(msg='api_key is empty: set api_key or the PIOPIY_API_KEY environment variable')
    workers = module.params.get('parallel_requests')
    if workers is not None and not 1 <= workers <= MAX_PARALLEL_REQUESTS:
        module.fail_json(msg='parallel_requests must be between 1 and %d, got %d' % (MAX_PARALLEL_REQUESTS, workers))
    return module


def piopiy_client(module, pool_size=16):
    params = module.params
    warning = insecure_transport_warning(params['api_base'])
    if warning:
        module.warn(warning)
    return PiopiyClient(params['api_key'], params['api_base'], params['timeout'], params['validate_certs'], pool_size=pool_size)


def normalize_phone_numbers(module, field, numbers):
    """The numbers in E.164, without duplicates, in the order given; fails naming every malformed one."""
    normalized, malformed = {}, []
    for raw in numbers:
        number = HUMAN_NUMBER_SEPARATORS.sub('', raw or '')
        if E164.match(number):
            normalized.setdefault(number, None)
        else:
            malformed.append(raw)
    if malformed:
        module.fail_json(msg='%s has %d malformed phone number(s): %s. Use E.164, a + and 8 to 15 digits not starting with 0, '
                             'such as +19499800001' % (field, len(malformed), ', '.join(repr(number) for number in malformed)))
    return list(normalized)


def run_parallel(action, items, workers):
    """action(item) for every item, at most `workers` at a time.

    Returns the results in the order of items, with the PiopiyAPIError in place
    of the result of an item that failed, so one failure never hides the others.
    """
    def guarded(item):
        try:
            return action(item)
        except PiopiyAPIError as error:
            return error
    if workers <= 1 or len(items) <= 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(guarded, items))


def fail_api(module, error, **result):
    """Turn an API error into a task failure whose message a user can act on."""
    module.fail_json(msg=str(error), status=error.status, error_code=error.code, request_id=error.request_id, **result)


def agent_by_name(module, client, name):
    """The one agent with exactly this name (as the list gives it), or None; fails when the name is ambiguous.

    Piopiy does not keep names unique, so the collection refuses to guess.
    """
    matches = client.agents_named(name)
    if len(matches) > 1:
        module.fail_json(msg='%d agents are named %r (ids: %s): set id to choose one'
                             % (len(matches), name, ', '.join(sorted(agent['id'] for agent in matches))))
    return matches[0] if matches else None


def changed_fields(current, wanted):
    """The wanted values that differ from current; a wanted value of None means 'leave as it is'."""
    return dict((key, value) for key, value in wanted.items() if value is not None and current.get(key) != value)


def secret_file_problem(path):
    """None when a secret can be written at path, else the reason; checked before any API write.

    Only a regular file is ever replaced: replacing /dev/null or a FIFO with a
    file of secrets would be a surprise for everyone else on the host.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return 'directory %s does not exist' % directory
    if not os.access(directory, os.W_OK | os.X_OK):
        return 'directory %s is not writable' % directory
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
        return 'it exists and is not a regular file'
    return None


def write_secret_file(path, secret):
    """Write a secret atomically, readable by its owner only (mode 0600)."""
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix='.piopiy-secret-')
    try:
        with os.fdopen(descriptor, 'w') as handle:
            handle.write(secret + '\n')
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class PiopiyResource:
    """Desired state for one API resource.

    A subclass sets `kind` (the namespaced return key and the audit's resource
    name) and `fields` (what it creates and compares), and implements the
    hooks `lookup`, `wanted`, `create`, `update` and `delete`.
    """

    kind = None
    fields = ()

    def __init__(self, module, client=None):
        self.module = module
        self.client = client or piopiy_client(module)
        self.changed = False
        self.operations = []
        self.extra = {}

    # ---- hooks ----

    def lookup(self):
        """The current resource, normalized, or None when it does not exist."""
        raise NotImplementedError

    def wanted(self):
        """The desired value of each field; None leaves a field as it is (or to its create default)."""
        raise NotImplementedError

    def create(self, wanted):
        raise NotImplementedError

    def update(self, current, changes):
        raise NotImplementedError

    def delete(self, current):
        raise NotImplementedError

    def attach(self, before, after):
        """What the resource carries beside its own fields (an agent's numbers), made so after its own write.

        Returns the whole before and after, as the task reports them.
        """
        return before, after

    def identity(self, resource):
        """What names the resource in an operation record."""
        return {'id': resource.get('id')}

    def planned(self, current, wanted):
        """The resource a create or update would produce, for check mode."""
        planned = dict.fromkeys(('id',) + tuple(self.fields))
        planned.update(current or {})
        planned.update((key, value) for key, value in wanted.items() if value is not None)
        return planned

    # ---- engine ----

    def write(self, action, *args):
        """The one door to the API for changes: marks the task changed and, outside check mode, calls action.

        Returns the action's answer, or None in check mode.
        """
        answer = None if self.module.check_mode else action(*args)
        self.changed = True
        return answer

    def record(self, op, before, after):
        resource = after or before
        self.operations.append(dict(op=op, resource=self.kind, before=before, after=after, **self.identity(resource)))

    def present(self, current):
        wanted = self.wanted()
        if current is None:
            after = self.write(self.create, wanted) or self.planned(None, wanted)
            self.record('create', None, after)
            return after
        changes = changed_fields(current, wanted)
        if not changes:
            return current
        after = self.write(self.update, current, changes) or self.planned(current, changes)
        self.record('update', current, after)
        return after

    def absent(self, current):
        if current is not None:
            self.write(self.delete, current)
            self.record('delete', current, None)
        return None

    def run(self):
        """Reach the state the task asks for and exit with the namespaced result."""
        try:
            before = self.lookup()
            handler = self.absent if self.module.params.get('state') == 'absent' else self.present
            after = handler(before)
            before, after = self.attach(before, after)
        except PiopiyAPIError as error:
            fail_api(self.module, error, changed=self.changed, operations=self.operations, **self.extra)
        result = {'changed': self.changed, 'operations': self.operations, self.kind: after or {}}
        if self.module._diff:
            result['diff'] = {'before': before or {}, 'after': after or {}}
        result.update(self.extra)
        self.module.exit_json(**result)
