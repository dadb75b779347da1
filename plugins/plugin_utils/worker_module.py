# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A piopiy.voice module's code run in the controller's worker, by its action plugin, instead of on a host.

WorkerModuleAction is the action plugin of such a module. A task on a local connection (the usual for an API module:
`delegate_to: localhost`, or an inventory of `ansible_connection: local` hosts) would run the module in a new Python
on this same machine, as this user; it runs the module's code here instead, in the worker Ansible has already
started, which saves packing the module, starting a Python, importing the client, and moving the arguments and
result through JSON: about a second for a fleet of 200 environments. Any other task (another connection, become,
async, or a controller whose Python lacks requests) runs the module as usual.

WorkerModule stands in for AnsibleModule where module_utils code expects one: `params` validated against the
module's argument spec (defaults, types, fallbacks, required options), `check_mode`, `_diff`, `no_log_values`,
`warn`, `fail_json` and `exit_json`. Where AnsibleModule prints its result and exits, `fail_json` and
`exit_json` raise ModuleExit; `run_in_worker` turns that into the task's result, shaped as a module's result is
once Ansible has read it back: JSON types only, an `invocation`, `warnings`, and every no_log value masked.
"""

from __future__ import annotations

import contextlib
import json
import os
import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action.normal import ActionModule as ModuleAction

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_api import HAS_REQUESTS
from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_module import check_connection, module_argument_spec

NO_LOG_PLACEHOLDER = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'  # what a module's invocation shows of a no_log option


class ModuleExit(Exception):
    """The end of a module's run in the worker, carrying its result (not yet masked)."""

    def __init__(self, result):
        super().__init__('module exit')
        self.result = result


class WorkerModule:
    """What module_utils code uses of AnsibleModule, for a module run in the controller's worker."""

    def __init__(self, name, check_mode, diff):
        self._name = name
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []
        self.params = {}
        self.no_log_values = set()
        self.no_log_options = []

    def validate(self, argument_spec, args, rules=None):
        """params from args as AnsibleModule makes them, rules being its mutually_exclusive, required_one_of, required_if and
        the like; a bad argument fails the run, naming it."""
        # The arguments as a module would receive them: JSON types only, whatever Ansible tagged them with.
        validation = ArgumentSpecValidator(argument_spec, **(rules or {})).validate(json.loads(json.dumps(args)))
        self.no_log_values.update(validation._no_log_values)
        self.no_log_options = [option for option, spec in argument_spec.items() if spec.get('no_log')]
        self.params = validation.validated_parameters
        for conflict in validation._warnings:
            self.warn('Both option %s and its alias %s are set.' % (conflict['option'], conflict['alias']))
        for deprecation in validation._deprecations:
            self.warn("Alias '%s' is deprecated. See the module docs for more information" % deprecation['name'])
        if validation.error_messages:
            message = validation.errors.msg
            if isinstance(validation.errors[0], UnsupportedError):
                message = 'Unsupported parameters for (%s) module: %s' % (self._name, message)
            self.fail_json(msg=message)

    def warn(self, warning):
        self.warnings.append(warning)

    def fail_json(self, msg, **result):
        raise ModuleExit(dict(result, failed=True, msg=msg))

    def exit_json(self, **result):
        raise ModuleExit(result)

    def finished(self, result):
        """The result as Ansible reads a module's back: with its invocation and warnings, JSON types, no_log values masked."""
        result = dict(result)
        result.setdefault('invocation', {'module_args': dict(self.params, **dict(
            (option, NO_LOG_PLACEHOLDER) for option in self.no_log_options if self.params.get(option) is not None))})
        if self.warnings:
            result['warnings'] = list(self.warnings)
        text = json.dumps(result)
        # remove_values walks every value of the result (0.1 s for a fleet of 200 environments): only when one may hold a secret.
        if any(may_hold(text, value) for value in self.no_log_values):
            text = json.dumps(remove_values(result, self.no_log_values))
        return json.loads(text)


def may_hold(text, value):
    """Whether the JSON text of a result may hold the no_log value: JSON escapes each character of a string on its own, so a
    string holding the value holds the value's escaped form; remove_values also masks a boolean whose name is the value."""
    value = str(value)
    return json.dumps(value)[1:-1] in text or value in ('True', 'False')


def run_in_worker(name, argument_spec, rules, args, check_mode, diff, run):
    """The result of run(module), a function that ends with module.exit_json or module.fail_json, for a WorkerModule.

    An unexpected error fails the task with its type, message and traceback (shown with -vvv), masked as any result is.
    """
    module = WorkerModule(name, check_mode, diff)
    try:
        module.validate(argument_spec, args, rules)
        run(module)
        raise RuntimeError('%s ended without a result' % name)
    except ModuleExit as end:
        return module.finished(end.result)
    except Exception as error:  # pylint: disable=broad-except
        return module.finished(dict(failed=True, changed=False, exception=traceback.format_exc(),
                                    msg='%s failed in the controller: %s: %s' % (name, type(error).__name__, error)))


@contextlib.contextmanager
def environment_set(variables):
    """The worker's environment with variables set, as a module would see the task's `environment`; restored afterwards."""
    saved = dict((name, os.environ.get(name)) for name in variables)
    os.environ.update((name, str(value)) for name, value in variables.items())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WorkerModuleAction(ModuleAction):
    """The action plugin of a piopiy.voice module whose code lives in module_utils; a subclass names the module, its options
    and how it runs, as the module's main() gives them to piopiy_module.piopiy_module."""

    module_name = None  # its FQCN, as AnsibleModule names it in its messages
    option_rules = {}  # mutually_exclusive, required_one_of, required_if and the like

    @staticmethod
    def options():
        """The module's own argument spec, without the connection's options."""
        raise NotImplementedError

    @staticmethod
    def run_module(module):
        """What the module's main() does once its module object is made: it ends with module.exit_json or module.fail_json."""
        raise NotImplementedError

    def run_checked(self, module):
        """The module's run after the connection checks that piopiy_module makes before main() goes on."""
        check_connection(module)
        self.run_module(module)

    def run(self, tmp=None, task_vars=None):
        if not self.runs_in_worker():
            return super().run(tmp, task_vars)
        result = super(ModuleAction, self).run(tmp, task_vars)  # the base's checks (check mode, async), without running the module
        environment = {}
        self._compute_environment_string(environment)  # the task's `environment`, as a module would have it
        with environment_set(environment):
            result.update(run_in_worker(self.module_name, module_argument_spec(self.options()), self.option_rules, self._task.args,
                                        self._task.check_mode, self._task.diff, self.run_checked))
        return result

    def runs_in_worker(self):
        """Whether the module would run in a Python of this machine, as this user, and to its end within the task."""
        return self._connection.transport == 'local' and not self._play_context.become and not self._task.async_val and HAS_REQUESTS
