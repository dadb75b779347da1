# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the callbacks read of a task result, on both shapes ansible-core passes. No Ansible run."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.piopiy.voice.plugins.plugin_utils.task_results import (
    environment_secrets,
    piopiy_result_parts,
    task_result_parts,
)


def public(action, data, check_mode=False):
    """A 2.19-style CallbackTaskResult: public attributes."""
    return SimpleNamespace(task=SimpleNamespace(resolved_action=action), host='prod', result=data, task_fields={'check_mode': check_mode})


def private(action, data, check_mode=False):
    """A 2.16 to 2.18 TaskResult: the same parts only with a leading underscore."""
    return SimpleNamespace(_task=SimpleNamespace(resolved_action=action), _host='prod', _result=data,
                           _task_fields={'check_mode': check_mode})


def test_both_shapes_give_the_same_parts():
    for shape in (public, private):
        task, host, data, fields = task_result_parts(shape('piopiy.voice.piopiy_agent', {'changed': True}, check_mode=True))
        assert (task.resolved_action, host, data, fields) == ('piopiy.voice.piopiy_agent', 'prod', {'changed': True}, {'check_mode': True})


def test_only_results_of_piopiy_voice_modules_count_and_never_a_loops_summary():
    for shape in (public, private):
        assert piopiy_result_parts(shape('piopiy.voice.piopiy_fleet', {'operations': []}))[2] == {'operations': []}
        assert piopiy_result_parts(shape('ansible.builtin.set_fact', {'changed': True})) is None
        assert piopiy_result_parts(shape(None, {})) is None
        assert piopiy_result_parts(shape('piopiy.voice.piopiy_agent', {'results': [{'changed': True}]})) is None


def test_the_environments_api_key_is_a_secret_only_when_set(monkeypatch):
    monkeypatch.setenv('PIOPIY_API_KEY', 'pk_test_acme_0001')
    assert environment_secrets() == ['pk_test_acme_0001']
    monkeypatch.setenv('PIOPIY_API_KEY', '')
    assert environment_secrets() == []
    monkeypatch.delenv('PIOPIY_API_KEY')
    assert environment_secrets() == []
