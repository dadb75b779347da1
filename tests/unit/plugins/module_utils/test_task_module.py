# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where the API key comes from, and what a missing one says. No HTTP."""

from __future__ import annotations

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.task_module import empty_id_problems, empty_name_problems, resolve_api_key


def test_the_option_wins_over_the_environment():
    assert resolve_api_key('pk_test_option', 'pk_test_environment') == ('pk_test_option', None)


def test_the_environment_is_used_when_the_option_is_not_given():
    assert resolve_api_key(None, 'pk_test_environment') == ('pk_test_environment', None)


@pytest.mark.parametrize('option,environment,says', [
    ('', 'pk_test_environment', 'the api_key option (or module_defaults for group/piopiy.voice.piopiy) is set to an empty string'),
    ('  ', None, 'the api_key option (or module_defaults for group/piopiy.voice.piopiy) is set to an empty string'),
    (None, None, 'api_key is not set: give the api_key option'),
    (None, '', 'the PIOPIY_API_KEY environment variable is set but empty'),
])
def test_a_missing_key_names_the_source_that_was_empty(option, environment, says):
    key, problem = resolve_api_key(option, environment)
    assert key is None and says in problem


def test_a_key_with_a_trailing_newline_is_refused():
    unused_key, problem = resolve_api_key(None, "pk_test_environment\n")
    assert problem.startswith('api_key starts or ends with a space or a newline')


def test_an_empty_id_is_refused_not_sent_as_nothing():
    assert empty_id_problems({'id': '', 'agent_id': None}, 'id', 'agent_id') == [
        'id is an empty string: give the id of an existing agent, or leave id out']


def test_an_empty_name_filter_is_refused_not_taken_for_an_agent_that_does_not_exist():
    # Often an unset variable: an empty answer would say there is no such agent, and a route listing would show
    # every purchased number as unrouted.
    assert empty_name_problems({'name': ' ', 'agent_name': None}, 'name', 'agent_name') == [
        'name is an empty string: give the name of an existing agent, or leave name out']
    assert empty_name_problems({'agent_name': 'prod-support-agent'}, 'agent_name') == []
