# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A module's code run in the controller's worker: arguments, results, masking, environment, and when it runs there. No HTTP."""

from __future__ import annotations

import os
from types import SimpleNamespace
from unittest import mock

from ansible_collections.piopiy.voice.plugins.plugin_utils import worker_module
from ansible_collections.piopiy.voice.plugins.plugin_utils.worker_module import (
    NO_LOG_PLACEHOLDER,
    WorkerModuleAction,
    environment_set,
    run_in_worker,
)

NAME = 'piopiy.voice.example'
KEY = 'pk_test_acme_0001'
SPEC = dict(
    api_key=dict(type='str', no_log=True),
    names=dict(type='list', elements='str', required=True),
    timeout=dict(type='float', default=30.0),
)


def run(args, body, check_mode=False, diff=False, rules=None):
    return run_in_worker(NAME, SPEC, rules, args, check_mode, diff, body)


def echo(module):
    module.exit_json(changed=False, params=dict(module.params), check_mode=module.check_mode, diff=module._diff)


def test_the_arguments_are_validated_as_a_module_does_defaults_and_types_included():
    result = run({'names': ['a', 'b'], 'timeout': '2.5'}, echo, check_mode=True, diff=True)
    assert result['params'] == {'api_key': None, 'names': ['a', 'b'], 'timeout': 2.5}
    assert (result['check_mode'], result['diff'], result['changed']) == (True, True, False)
    assert result['invocation'] == {'module_args': {'api_key': None, 'names': ['a', 'b'], 'timeout': 2.5}}


def test_bad_arguments_fail_before_the_run_naming_them_as_a_module_does():
    body = mock.Mock()
    unknown = run({'names': ['a'], 'bogus': 1}, body)
    assert unknown['failed'] and unknown['msg'].startswith('Unsupported parameters for (piopiy.voice.example) module: bogus.')
    missing = run({}, body)
    assert missing['failed'] and missing['msg'] == 'missing required arguments: names'
    wrong = run({'names': ['a'], 'timeout': 'soon'}, body)
    assert wrong['failed'] and "argument 'timeout' is of type str" in wrong['msg']
    exclusive = run({'names': ['a'], 'api_key': KEY, 'timeout': 1}, body, rules=dict(mutually_exclusive=[('api_key', 'timeout')]))
    assert exclusive['failed'] and exclusive['msg'] == 'parameters are mutually exclusive: api_key|timeout'
    body.assert_not_called()


def test_the_result_has_json_types_warnings_and_the_failure_as_the_module_gave_it():
    def body(module):
        module.warn('careful')
        module.fail_json(msg='no', numbers=('+19499800001',), problems=['one'])
    result = run({'names': ['a']}, body)
    assert result['failed'] and result['msg'] == 'no' and result['problems'] == ['one']
    assert result['numbers'] == ['+19499800001'] and result['warnings'] == ['careful']


def test_a_no_log_option_is_never_shown_in_the_invocation_nor_anywhere_in_the_result():
    def body(module):
        module.exit_json(changed=True, msg='sent %s to the API' % module.params['api_key'], nested={'deep': ['key=' + KEY]})
    result = run({'names': ['a'], 'api_key': KEY}, body)
    assert result['invocation']['module_args']['api_key'] == NO_LOG_PLACEHOLDER
    assert KEY not in repr(result)
    assert result['msg'] == 'sent ******** to the API' and result['nested'] == {'deep': ['key=********']}


def test_a_value_the_run_marks_no_log_is_masked_even_with_characters_json_escapes():
    secret = 'tok"en\\wi\u00fe\n'

    def body(module):
        module.no_log_values.add(secret)
        module.exit_json(changed=False, said=['before %s after' % secret], keyed={secret: 1})
    result = run({'names': ['a']}, body)
    assert secret not in repr(result) and secret not in str(result['said'])
    assert result['said'] == ['before ******** after']


def test_a_result_without_a_secret_is_not_walked_again(monkeypatch):
    monkeypatch.setattr(worker_module, 'remove_values', mock.Mock(side_effect=AssertionError('walked')))
    result = run({'names': ['a'], 'api_key': KEY}, lambda module: module.exit_json(changed=False, names=module.params['names']))
    assert result['names'] == ['a'] and result['invocation']['module_args']['api_key'] == NO_LOG_PLACEHOLDER


def test_an_unexpected_error_fails_the_task_with_its_type_and_message_masked():
    def body(module):
        raise ValueError('cannot use %s here' % module.params['api_key'])
    result = run({'names': ['a'], 'api_key': KEY}, body)
    assert result['failed'] and result['changed'] is False
    assert result['msg'] == 'piopiy.voice.example failed in the controller: ValueError: cannot use ******** here'
    assert 'Traceback' in result['exception'] and KEY not in result['exception']


def test_a_run_that_ends_without_a_result_fails():
    result = run({'names': ['a']}, lambda module: None)
    assert result['failed'] and 'ended without a result' in result['msg']


def test_the_environment_is_set_for_the_block_and_restored_after(monkeypatch):
    monkeypatch.setenv('PIOPIY_TEST_KEPT', 'before')
    monkeypatch.delenv('PIOPIY_TEST_NEW', raising=False)
    with environment_set({'PIOPIY_TEST_KEPT': 'during', 'PIOPIY_TEST_NEW': 7}):
        assert (os.environ['PIOPIY_TEST_KEPT'], os.environ['PIOPIY_TEST_NEW']) == ('during', '7')
    assert os.environ['PIOPIY_TEST_KEPT'] == 'before' and 'PIOPIY_TEST_NEW' not in os.environ


class ExampleAction(WorkerModuleAction):
    module_name = NAME
    option_rules = dict(required_one_of=[('names', 'name')])

    @staticmethod
    def options():
        return dict(names=dict(type='list', elements='str'), name=dict(type='str'))

    @staticmethod
    def run_module(module):
        module.exit_json(changed=True, names=module.params['names'], key_from=os.environ.get('PIOPIY_TEST_TASK_KEY'),
                         check_mode=module.check_mode, api_base=module.params['api_base'], api_key=module.params['api_key'])


def action(transport='local', become=False, async_val=0, check_mode=False, environment=None, args=None):
    task = SimpleNamespace(args={'names': ['a']} if args is None else args, async_val=async_val, check_mode=check_mode, diff=False,
                           action=NAME)
    connection = SimpleNamespace(transport=transport, _shell=SimpleNamespace(tmpdir=None))
    plugin = ExampleAction(task, connection, SimpleNamespace(become=become), loader=None, templar=None, shared_loader_obj=None)
    plugin._compute_environment_string = lambda raw_environment_out: raw_environment_out.update(environment or {})
    return plugin


def test_the_module_runs_in_the_worker_only_on_a_local_connection_without_become_nor_async():
    assert action().runs_in_worker()
    assert not action(transport='ssh').runs_in_worker()
    assert not action(become=True).runs_in_worker()
    assert not action(async_val=30).runs_in_worker()
    with mock.patch.object(worker_module, 'HAS_REQUESTS', False):
        assert not action().runs_in_worker()


def test_in_the_worker_the_task_gets_the_modules_result_with_the_tasks_environment_and_check_mode(monkeypatch):
    monkeypatch.delenv('PIOPIY_TEST_TASK_KEY', raising=False)
    monkeypatch.delenv('PIOPIY_API_KEY', raising=False)
    monkeypatch.delenv('PIOPIY_API_BASE', raising=False)
    result = action(check_mode=True, environment={'PIOPIY_TEST_TASK_KEY': 'from-task', 'PIOPIY_API_KEY': KEY}).run(task_vars={})
    assert (result['changed'], result['names'], result['key_from'], result['check_mode']) == (True, ['a'], 'from-task', True)
    # The connection's options are the module's too, checked as the module checks them; the key is never shown.
    assert result['api_base'] == 'https://api.piopiy.com/v1' and result['api_key'] == NO_LOG_PLACEHOLDER
    assert 'PIOPIY_TEST_TASK_KEY' not in os.environ and 'PIOPIY_API_KEY' not in os.environ


def test_in_the_worker_the_modules_option_rules_and_connection_checks_apply(monkeypatch):
    monkeypatch.delenv('PIOPIY_API_KEY', raising=False)
    neither = action(args={'api_key': KEY}).run(task_vars={})
    assert neither['failed'] and neither['msg'] == 'one of the following is required: names, name'
    no_key = action().run(task_vars={})
    assert no_key['failed'] and no_key['msg'].startswith('api_key is not set')


def test_elsewhere_the_task_runs_the_module_itself():
    with mock.patch.object(worker_module.ModuleAction, 'run', return_value={'ran': 'the module'}) as module_run:
        assert action(transport='ssh').run(task_vars={'x': 1}) == {'ran': 'the module'}
    module_run.assert_called_once_with(None, {'x': 1})
