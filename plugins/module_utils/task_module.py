# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every piopiy.voice module shares with Ansible: connection options, the client, and how a task runs.

`run_task` is the one flow of a resource module, over the engine's three steps:
check every input, read, plan (fail naming every problem), then in check mode
report the plan, else apply it through the write door and report what the API
confirmed. A task object declares the rest: `kind` (the namespaced return key),
`validate()`, `read(client)`, `plan(client, state)` and `result(state, outcomes)`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    DEFAULT_API_BASE,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    UNPUBLISHED_CALLS,
    PiopiyAPIError,
    PiopiyClient,
    api_base_problem,
    api_key_problem,
    insecure_transport_warning,
)
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import (
    WriteDoor,
    failure_message,
    first_api_error,
    planned_outcomes,
    problems_message,
    report,
    uncertain_records,
)
from ansible_collections.piopiy.voice.plugins.module_utils.client_capabilities import AUTO, PROFILES, Capabilities, CapabilityCache
from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import LockTimeout, capabilities_path, lock_dir, own_directory
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import parse_phone_numbers, routes_unknown_warning

API_KEY_VARIABLE = 'PIOPIY_API_KEY'
MAX_PARALLEL_REQUESTS = 64
PARALLEL_REQUESTS_SPEC = dict(type='int', default=8)
# The options of the modules that write routes, that stop a mistaken plan before its first write.
GUARD_RAILS_SPEC = dict(
    max_route_changes=dict(type='int'),
    protected_numbers=dict(type='list', elements='str', default=[]),
    allow_protected_changes=dict(type='bool', default=False),
)


def connection_argument_spec():
    return dict(
        # Read from the environment here, not with a fallback, so that a missing key's error can say which source was empty.
        api_key=dict(type='str', no_log=True),
        api_base=dict(type='str', default=DEFAULT_API_BASE, fallback=(env_fallback, ['PIOPIY_API_BASE'])),
        timeout=dict(type='float', default=30.0),
        validate_certs=dict(type='bool', default=True),
        api_profile=dict(type='str', choices=list(PROFILES), default=AUTO, fallback=(env_fallback, ['PIOPIY_API_PROFILE'])),
    )


def module_argument_spec(argument_spec):
    """A module's whole argument spec: the connection options and its own."""
    spec = connection_argument_spec()
    spec.update(argument_spec)
    return spec


def piopiy_module(argument_spec, **kwargs):
    """An AnsibleModule with the connection options and check mode, its connection checked before anything is sent."""
    module = AnsibleModule(argument_spec=module_argument_spec(argument_spec), supports_check_mode=True, **kwargs)
    check_connection(module)
    return module


def check_connection(module):
    """Fail the task unless requests is there and the key and base are usable; the key, from the option or the environment, becomes
    module.params['api_key'] and a value never shown."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    api_key, problem = resolve_api_key(module.params['api_key'], os.environ.get(API_KEY_VARIABLE))
    if api_key:
        module.no_log_values.add(api_key)
    problem = problem or api_base_problem(module.params['api_base'])
    if problem:
        module.fail_json(msg=problem)
    module.params['api_key'] = api_key


def resolve_api_key(option, environment):
    """(the key, None), or (None, why there is none, naming the source that was empty)."""
    if option is not None:
        if not option.strip():
            return None, ('api_key is empty: the api_key option (or module_defaults for group/piopiy.voice.piopiy) is set to an empty '
                          'string, which is used instead of %s; set it to the workspace key, or leave it out' % API_KEY_VARIABLE)
        return option, api_key_problem(option)
    if environment is None:
        return None, ('api_key is not set: give the api_key option (for every module of a play: module_defaults for '
                      'group/piopiy.voice.piopiy), or set the %s environment variable' % API_KEY_VARIABLE)
    if not environment.strip():
        return None, 'api_key is empty: the %s environment variable is set but empty; set it to the workspace key' % API_KEY_VARIABLE
    return environment, api_key_problem(environment)


def parallel_requests_problem(workers):
    if workers is not None and not 1 <= workers <= MAX_PARALLEL_REQUESTS:
        return 'parallel_requests must be between 1 and %d, got %d' % (MAX_PARALLEL_REQUESTS, workers)
    return None


def empty_id_problems(params, *options):
    """An id given as an empty string (often an unset variable) is refused, never sent as nothing."""
    return ['%s is an empty string: give the id of an existing agent, or leave %s out' % (option, option)
            for option in options if params.get(option) is not None and not params[option].strip()]


def guard_rails(params):
    """(the guard rail options as guard_problems takes them, the problems of those options themselves)."""
    protected, problems = parse_phone_numbers('protected_numbers', params['protected_numbers'])
    if params['max_route_changes'] is not None and params['max_route_changes'] < 0:
        problems.append('max_route_changes must be 0 or more, got %d' % params['max_route_changes'])
    return dict(max_changes=params['max_route_changes'], protected=protected, allow_protected=params['allow_protected_changes']), problems


def piopiy_client(module, pool_size=16, **options):
    params = module.params
    warning = insecure_transport_warning(params['api_base'])
    if warning:
        module.warn(warning)
    return PiopiyClient(params['api_key'], params['api_base'], params['timeout'], params['validate_certs'], pool_size=pool_size,
                        capabilities=run_capabilities(params), **options)


def run_capabilities(params):
    """The capability record of the task, with what earlier tasks of the run learned (client_capabilities explains the cache)."""
    cache = None
    if params['api_profile'] != 'extended':
        try:
            own_directory(lock_dir())
            cache = CapabilityCache(capabilities_path(params['api_base'], params['api_key']))
        except OSError:
            cache = None  # each task then learns for itself: one more request per task and missing call
    return Capabilities(params['api_profile'], UNPUBLISHED_CALLS, cache)


def fail_api(module, error, **result):
    """Turn an API error into a task failure whose message a user can act on."""
    module.fail_json(msg=str(error), **dict(error.facts(), **result))


def warn_routes_unknown(module, client, book):
    """Once per run: why the current routes are unknown, and what the tasks do about it."""
    if book is not None and not book.known and client.capabilities.first_notice('routes unknown'):
        module.warn(routes_unknown_warning(book))


def capability_report(module, client):
    """The calls this API lacks, as the result's missing_calls (only when there are some); a cache that failed is a warning."""
    capabilities = client.capabilities
    if capabilities.cache_problem:
        module.warn(capabilities.cache_problem + ': each task of the run learns the missing calls for itself')
    missing = capabilities.missing_calls()
    return {'missing_calls': missing} if missing else {}


@dataclass(frozen=True)
class TaskReport:
    """What a task shows once its writes are in: its namespaced return values, and the diff's whole before and after."""

    values: dict
    before: object = None
    after: object = None


class PiopiyTask:
    """The declaration a resource module gives run_task; the defaults are for tasks without the step."""

    kind = None

    def validate(self):
        """Every problem of the input alone, found before anything is read."""
        return []

    def read(self, client):
        raise NotImplementedError

    def plan(self, client, state):
        raise NotImplementedError

    def result(self, state, outcomes):
        """The TaskReport once the outcomes are in."""
        raise NotImplementedError

    def problems_after_apply(self):
        """Problems of this task's own making once the writes are done, such as a token file that could not be written."""
        return []

    def lock(self):
        """The lock (piopiy_lock.AgentLock) held from before the read until after the writes, or None."""
        return None

    def converge(self, client, state, outcomes, door):
        """After the writes: the outcomes once any plan that converges with a concurrent run's writes is applied through door."""
        return outcomes


def run_task(module, task, workers=1):
    """Check, read, plan; then report the plan (check mode) or apply it and converge; exit with the namespaced result.

    The task's lock, if any, is held from before the read until after the last write.
    """
    problems = [problem for problem in task.validate() if problem]
    client = piopiy_client(module, pool_size=max(workers, 1))
    with held(module, task.lock()):
        state, outcomes = _read_plan_apply(module, task, client, problems, workers)
    operations, failures, changed = report(outcomes)
    shown = task.result(state, outcomes)
    result = dict(shown.values, changed=changed, operations=operations)
    result.update(capability_report(module, client))
    unknown = uncertain_records(outcomes)
    if unknown:  # check mode: writes that would be sent, whose effect cannot be known (see the task's routes_unknown)
        result['unknown'] = unknown
    # Always returned: Ansible shows a result's diff only with --diff (or diff: true), and AnsibleModule has no public flag.
    result['diff'] = {'before': shown.before, 'after': shown.after}
    late = task.problems_after_apply()
    if failures or late:
        messages = ([failure_message(outcomes, failures)] if failures else []) + late
        module.fail_json(msg='; '.join(messages), **dict(first_api_error(failures), **result))
    module.exit_json(**result)


@contextlib.contextmanager
def held(module, lock):
    """Hold the lock (None: no lock) for the block; a lock not free in time fails the task before its read."""
    if lock is None:
        yield
        return
    try:
        lock.acquire()
    except LockTimeout as error:
        module.fail_json(msg=str(error), changed=False, lock_file=lock.path)
    except OSError as error:
        module.fail_json(msg='the lock file %s cannot be used (%s), so nothing was read or changed: it keeps two runs on this machine '
                         'from creating one agent twice' % (lock.path, error.strerror or error), changed=False, lock_file=lock.path)
    try:
        yield
    finally:
        lock.release()


def _read_plan_apply(module, task, client, problems, workers):
    try:
        state = task.read(client)
    except PiopiyAPIError as error:
        problems.append(str(error))
        module.fail_json(msg=problems_message(problems), problems=problems, changed=False, **error.facts())
    plan = task.plan(client, state)
    problems.extend(plan.problems)
    if problems:
        module.fail_json(msg=problems_message(problems), problems=problems, changed=False, **plan.facts)
    if module.check_mode:
        return state, planned_outcomes(plan)
    door = WriteDoor(workers)
    return state, task.converge(client, state, door.apply(plan), door)
