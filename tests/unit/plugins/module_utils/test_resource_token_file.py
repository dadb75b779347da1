# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Token files and env files: their format, parsing back, the backup a rotation keeps, durations."""

from __future__ import annotations

import datetime
import os
import stat

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.resource_token_file import (
    drop_backup,
    env_names_problems,
    holds_credentials_of,
    keep_backup,
    parse_duration,
    parse_env_file,
    parse_issued_at,
    read_credentials,
    render_env_file,
    secret_file_problem,
    write_credentials,
)

ISSUED = datetime.datetime(2026, 11, 26, 15, 4, 5, tzinfo=datetime.timezone.utc)
TOKEN = 'agt_live_0123456789abcdef'


def test_the_env_file_holds_the_id_the_token_and_the_issue_time_under_the_default_names():
    assert render_env_file('agent_9x2d41c7', TOKEN, ISSUED) == (
        '# Piopiy agent credentials, written by piopiy.voice.piopiy_agent. Issued 2026-11-26T15:04:05Z.\n'
        'AGENT_ID=agent_9x2d41c7\n'
        'AGENT_TOKEN=agt_live_0123456789abcdef\n'
        'PIOPIY_TOKEN_ISSUED_AT=2026-11-26T15:04:05Z\n')


def test_the_env_file_uses_the_names_given_and_parses_back():
    names = {'agent_id': 'PIOPIY_AGENT_ID', 'token': 'PIOPIY_TOKEN'}
    text = render_env_file('agent_1', TOKEN, ISSUED, names)
    stored = parse_env_file(text, names)

    assert 'PIOPIY_AGENT_ID=agent_1\nPIOPIY_TOKEN=agt_live_0123456789abcdef\n' in text
    assert (stored.has_token, stored.agent_id, stored.issued_at) == (True, 'agent_1', ISSUED)
    assert parse_env_file(text).has_token is False, 'read with other names, it holds no token'


def test_a_value_an_env_file_cannot_hold_unquoted_is_refused_without_showing_it():
    with pytest.raises(ValueError) as error:
        render_env_file('agent_1', 'agt_live_x\nEVIL=1', ISSUED)
    assert 'agt_live' not in str(error.value)


def test_issue_times_parse_in_utc_and_garbage_is_none():
    assert parse_issued_at('2026-11-26T15:04:05Z') == ISSUED
    assert parse_issued_at('2026-11-26T20:34:05+05:30') == ISSUED
    assert parse_issued_at('yesterday') is None


def test_bad_env_names_are_all_named():
    problems = env_names_problems({'agent_id': '1ID', 'token': 'TOKEN-X', 'secret': 'S'})

    assert problems[0] == 'token_env_names has unknown key(s) secret: give only agent_id and token'
    assert problems[1].startswith("token_env_names has invalid variable name(s): agent_id='1ID', token='TOKEN-X'. Use letters")
    assert env_names_problems({'token': 'AGENT_ID'})[0].startswith('token_env_names must name two different variables')


def test_files_are_written_0600_and_read_back_without_the_token(tmp_path):
    env, plain = str(tmp_path / 'agent.env'), str(tmp_path / 'agent.token')
    write_credentials(env, 'env', 'agent_1', TOKEN, ISSUED)
    write_credentials(plain, 'token', 'agent_1', TOKEN, ISSUED)

    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600 and stat.S_IMODE(os.stat(plain).st_mode) == 0o600
    assert open(plain).read() == TOKEN + '\n'
    stored = read_credentials(env, 'env')
    assert (stored.has_token, stored.agent_id, stored.issued_at) == (True, 'agent_1', ISSUED)
    assert not hasattr(stored, 'token')
    assert read_credentials(str(tmp_path / 'missing'), 'token').has_token is False


def test_a_missing_directory_is_made_0700_and_only_a_path_under_a_file_is_refused(tmp_path):
    path = str(tmp_path / 'tokens' / 'prod' / 'agent.env')
    assert secret_file_problem(path) is None and not os.path.exists(os.path.dirname(path))
    write_credentials(path, 'env', 'agent_1', TOKEN, ISSUED)

    assert stat.S_IMODE(os.stat(str(tmp_path / 'tokens')).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert read_credentials(path, 'env').agent_id == 'agent_1'
    (tmp_path / 'plain').write_text('x')
    assert secret_file_problem(str(tmp_path / 'plain' / 'sub' / 'agent.env')) == '%s is not a directory' % (tmp_path / 'plain')
    assert secret_file_problem(str(tmp_path / 'tokens')) == 'it names a directory, not a file'


def test_the_backup_is_taken_once_and_tells_a_plain_token_file_holding_the_new_token(tmp_path):
    path = str(tmp_path / 'agent.token')
    write_credentials(path, 'token', 'agent_old', 'agt_live_old', ISSUED)
    keep_backup(path)

    assert not holds_credentials_of(path, 'token', 'agent_new'), 'the file still holds the old token'
    write_credentials(path, 'token', 'agent_new', 'agt_live_new', ISSUED)
    keep_backup(path)  # a resumed rotation: the backup keeps the old token
    assert open(path + '.previous').read() == 'agt_live_old\n'
    assert stat.S_IMODE(os.stat(path + '.previous').st_mode) == 0o600
    assert holds_credentials_of(path, 'token', 'agent_new')
    drop_backup(path)
    drop_backup(path)
    assert not os.path.exists(path + '.previous')


def test_a_rotation_that_starts_replaces_a_stale_backup_left_by_an_earlier_rotation(tmp_path):
    path = str(tmp_path / 'agent.env')
    write_credentials(path, 'env', 'agent_deleted', 'agt_live_deleted', ISSUED)
    keep_backup(path)
    write_credentials(path, 'env', 'agent_current', 'agt_live_current', ISSUED)  # a rotation killed after its rename

    keep_backup(path, fresh=True)

    assert read_credentials(path + '.previous', 'env').agent_id == 'agent_current'
    assert stat.S_IMODE(os.stat(path + '.previous').st_mode) == 0o600


def test_a_rotation_that_starts_without_a_token_file_removes_a_stale_backup(tmp_path):
    path = str(tmp_path / 'agent.token')
    write_credentials(path, 'token', 'agent_deleted', 'agt_live_deleted', ISSUED)
    keep_backup(path)
    os.unlink(path)

    keep_backup(path, fresh=True)

    assert not os.path.exists(path + '.previous')


def test_an_env_file_holds_the_credentials_of_the_agent_it_names(tmp_path):
    path = str(tmp_path / 'agent.env')
    write_credentials(path, 'env', 'agent_new', TOKEN, ISSUED)

    assert holds_credentials_of(path, 'env', 'agent_new') and not holds_credentials_of(path, 'env', 'agent_old')


@pytest.mark.parametrize('text, seconds', [('90d', 7776000), ('90', 7776000), ('12h', 43200), ('30m', 1800), ('45s', 45), ('2w', 1209600),
                                           ('ninety', None), ('-1d', None), ('', None)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
