# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every piopiy.voice module shares with Ansible: connection options, the client, and how a task runs. Private.

`run_module` is the one way every module of the collection runs (kubernetes.core's pattern): it builds the
AnsibleModule from the module's own argument spec, checks the connection, and runs the module's task through the
engine's one loop (engine_loop.run_loop: read, plan, apply, converge), then reports. A task (a PiopiyTask) declares
the rest: validate(), lock(), read(client, round), plan(client, state, round), another_round(client, outcomes) and
result(loop) -> TaskReport. A failure anywhere is a TaskFailure, which becomes the module's fail_json.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    DEFAULT_API_BASE,
    UNPUBLISHED_CALLS,
    PiopiyClient,
    api_base_problem,
    api_key_problem,
    insecure_transport_warning,
)
from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import LoopTask, TaskFailure, run_loop
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import (
    Plan,
    failure_message,
    first_api_error,
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
    """Fail the task unless the key and base are usable; the key, from the option or the environment, becomes
    module.params['api_key'] and a value never shown."""
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
    return _empty_string_problems(params, options, 'id')


def empty_name_problems(params, *options):
    """A name filter given as an empty string (often an unset variable) is refused: no agent has it, and an empty answer
    would read as "there is none"."""
    return _empty_string_problems(params, options, 'name')


def _empty_string_problems(params, options, what):
    return ['%s is an empty string: give the %s of an existing agent, or leave %s out' % (option, what, option)
            for option in options if params.get(option) is not None and not params[option].strip()]


def guard_rails(params):
    """(the guard rail options as guard_problems takes them, the problems of those options themselves)."""
    protected, problems = parse_phone_numbers('protected_numbers', params['protected_numbers'])
    if params['max_route_changes'] is not None and params['max_route_changes'] < 0:
        problems.append('max_route_changes must be 0 or more, got %d' % params['max_route_changes'])
    return dict(max_changes=params['max_route_changes'], protected=protected, allow_protected=params['allow_protected_changes']), problems


def piopiy_client(module, **options):
    """The API client of the module's connection options; options: PiopiyClient's own (rate limits, retry budget)."""
    params = module.params
    warning = insecure_transport_warning(params['api_base'])
    if warning:
        module.warn(warning)
    return PiopiyClient(params['api_key'], params['api_base'], params['timeout'], params['validate_certs'],
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


class PiopiyTask(LoopTask):
    """The declaration a module gives run_module; the defaults are for a task without the step."""

    read_only = False  # an info task: it returns its values alone, without operations or a diff

    def __init__(self, module):
        self.module = module
        self.params = module.params

    @property
    def workers(self):
        """How many requests the task may have under way at once (its parallel_requests option)."""
        return self.params.get('parallel_requests') or 1

    def client_options(self):
        """PiopiyClient's own options for this task, beyond the connection's."""
        return {}

    def validate(self):
        """Every problem of the input alone, found before anything is read."""
        return []

    def lock(self):
        """The lock (engine_lock.AgentLock) held from before the read until after the writes, or None."""
        return None

    def plan(self, client, state, round_number):
        return Plan()

    def result(self, loop):
        """The TaskReport once the loop (engine_loop.LoopResult) is done."""
        raise NotImplementedError

    def problems_after_apply(self):
        """Problems of this task's own making once the writes are done, such as a token file that could not be written."""
        return []


def run_module(argument_spec, task_class, **rules):
    """Run a module: its AnsibleModule from argument_spec and rules (mutually_exclusive, ...), then its task."""
    module = piopiy_module(argument_spec, **rules)
    try:
        result = run_task(module, task_class(module))
    except TaskFailure as failure:
        module.fail_json(msg=failure.msg, **failure.facts)
    module.exit_json(**result)


def run_task(module, task):
    """Check, then the loop under the task's lock; the module's result, or a TaskFailure naming every write that failed."""
    problems = [problem for problem in task.validate() if problem]
    if problems and task.read_only:
        # Nothing to plan, so nothing the read could add to the input's problems: fail before any request.
        raise TaskFailure(problems_message(problems), problems=problems, changed=False)
    client = piopiy_client(module, **task.client_options())
    try:
        with held(task.lock()):
            loop = run_loop(task, client, module.check_mode, task.workers, problems)
    finally:
        client.close()
    shown = task.result(loop)
    if task.read_only:
        return dict(shown.values, changed=False, **capability_report(module, client))
    operations, failures, changed = report(loop.outcomes)
    # The diff is always returned: Ansible shows a result's diff only with --diff (or diff: true), and AnsibleModule
    # has no public flag for it.
    result = dict(shown.values, changed=changed, operations=operations, diff={'before': shown.before, 'after': shown.after})
    result.update(capability_report(module, client))
    unknown = uncertain_records(loop.outcomes)
    if unknown:  # check mode: writes that would be sent, whose effect cannot be known (see the task's routes_unknown)
        result['unknown'] = unknown
    late = loop.late + task.problems_after_apply()
    if failures or late:
        messages = ([failure_message(loop.outcomes, failures)] if failures else []) + late
        raise TaskFailure('; '.join(messages), **dict(first_api_error(failures), **result))
    return result


@contextlib.contextmanager
def held(lock):
    """Hold the lock (None: no lock) for the block; a lock not free in time fails the task before its read."""
    if lock is None:
        yield
        return
    try:
        lock.acquire()
    except LockTimeout as error:
        raise TaskFailure(str(error), changed=False, lock_file=lock.path)
    except OSError as error:
        raise TaskFailure('the lock file %s cannot be used (%s), so nothing was read or changed: it keeps two runs on this machine '
                          'from creating one agent twice' % (lock.path, error.strerror or error), changed=False, lock_file=lock.path)
    try:
        yield
    finally:
        lock.release()
