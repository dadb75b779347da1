# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Files that hold a secret, such as a new agent's token: checked before any write to the API, written atomically, mode 0600.

Two formats. `token`: the token alone on one line (the file's mtime is its issue
time). `env`: an environment file that systemd (EnvironmentFile=), docker
(--env-file) and a Kubernetes secret generator read as it is: the agent id and
the token under names the user picks, and the issue time in ISO 8601 UTC.
"""

from __future__ import annotations

import datetime
import os
import re
import tempfile

TOKEN_FORMAT = 'token'
ENV_FORMAT = 'env'
ISSUED_AT_VARIABLE = 'PIOPIY_TOKEN_ISSUED_AT'
DEFAULT_ENV_NAMES = {'agent_id': 'AGENT_ID', 'token': 'AGENT_TOKEN'}  # piopiy-ai; piopiy-agent reads PIOPIY_AGENT_ID, PIOPIY_TOKEN
ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# Values are written unquoted, which every env-file reader takes as they are only when they hold none of these.
PLAIN_VALUE = re.compile(r'^[A-Za-z0-9_.:+/=@-]+$')
ISO_UTC = '%Y-%m-%dT%H:%M:%SZ'
BACKUP_SUFFIX = '.previous'
DURATION = re.compile(r'^\s*(\d+)\s*([smhdw]?)\s*$')
SECONDS_PER_UNIT = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, '': 86400}


def secret_file_problem(path):
    """None when a secret can be written at path, else the reason.

    Only a regular file is ever replaced: replacing /dev/null or a FIFO with a
    file of secrets would be a surprise for everyone else on the host.
    """
    if path.endswith(os.sep) or os.path.isdir(path):
        return 'it names a directory, not a file'
    directory = os.path.dirname(os.path.abspath(path))
    existing = nearest_existing(directory)
    if not os.path.isdir(existing):
        return '%s is not a directory' % existing
    if not os.access(existing, os.W_OK | os.X_OK):
        return 'directory %s is not writable' % existing
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
        return 'it exists and is not a regular file'
    return None


def nearest_existing(directory):
    """directory, or its nearest ancestor that exists: the one whose permissions decide whether the rest can be made."""
    return missing_directories(directory)[0]


def missing_directories(directory):
    """(the nearest existing directory, those missing below it down to directory, outermost first)."""
    missing = []
    while not os.path.lexists(directory) and os.path.dirname(directory) != directory:
        missing.insert(0, directory)
        directory = os.path.dirname(directory)
    return directory, missing


def make_private_directories(directory):
    """Make directory and its missing ancestors, each 0700 (os.makedirs gives ancestors the umask's mode)."""
    for each in missing_directories(directory)[1]:
        try:
            os.mkdir(each, 0o700)
        except FileExistsError:  # made meanwhile by another task writing a token beside this one
            pass


def write_secret_text(path, text):
    """Write a file of secrets atomically, readable by its owner only (mode 0600), in a directory made 0700 when missing.

    A missing directory is made rather than refused so that an inventory can name a token file per environment under a
    directory of its own (~/.config/piopiy) and its first apply keeps every token; tokens are issued only once.
    """
    directory = os.path.dirname(os.path.abspath(path))
    make_private_directories(directory)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix='.piopiy-secret-')
    try:
        with os.fdopen(descriptor, 'w') as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_secret_file(path, secret):
    """Write a token file: the secret alone on one line."""
    write_secret_text(path, secret + '\n')


def env_names_problems(names):
    """Every problem of token_env_names: both keys, valid variable names, two different names."""
    problems = []
    unknown = sorted(set(names) - set(DEFAULT_ENV_NAMES))
    if unknown:
        problems.append('token_env_names has unknown key(s) %s: give only agent_id and token' % ', '.join(unknown))
    bad = ['%s=%r' % (key, value) for key, value in sorted(names.items()) if not isinstance(value, str) or not ENV_NAME.match(value)]
    if bad:
        problems.append('token_env_names has invalid variable name(s): %s. Use letters, digits and _, not starting with a digit, '
                        'such as AGENT_ID and AGENT_TOKEN' % ', '.join(bad))
    chosen = env_names(names)
    if chosen['agent_id'] == chosen['token'] or ISSUED_AT_VARIABLE in chosen.values():
        problems.append('token_env_names must name two different variables, neither of them %s: got %s and %s'
                        % (ISSUED_AT_VARIABLE, chosen['agent_id'], chosen['token']))
    return problems


def env_names(names):
    """The variable names to use: the defaults, overridden by those given."""
    return dict(DEFAULT_ENV_NAMES, **dict((key, value) for key, value in (names or {}).items() if value))


def format_issued_at(moment):
    return moment.astimezone(datetime.timezone.utc).strftime(ISO_UTC)


def parse_issued_at(text):
    """The UTC datetime of an ISO 8601 time as this module writes it (a trailing Z or +00:00), or None."""
    text = (text or '').strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def render_env_file(agent_id, token, issued_at, names=None):
    """The text of an env file. Raises ValueError (naming no value) for a value an env file cannot hold unquoted."""
    chosen = env_names(names)
    for what, value in (('agent id', agent_id), ('token', token)):
        if not PLAIN_VALUE.match(value or ''):
            raise ValueError('the %s holds characters an env file cannot carry unquoted' % what)
    stamp = format_issued_at(issued_at)
    return ''.join([
        '# Piopiy agent credentials, written by piopiy.voice.piopiy_agent. Issued %s.\n' % stamp,
        '%s=%s\n' % (chosen['agent_id'], agent_id),
        '%s=%s\n' % (chosen['token'], token),
        '%s=%s\n' % (ISSUED_AT_VARIABLE, stamp),
    ])


class StoredCredentials:
    """What a token file holds, never the token itself: whether there is one, the agent id and the issue time when known."""

    def __init__(self, has_token=False, agent_id=None, issued_at=None):
        self.has_token = has_token
        self.agent_id = agent_id
        self.issued_at = issued_at


def parse_env_file(text, names=None):
    """StoredCredentials from an env file's text; comments, blank lines and other variables are skipped."""
    chosen = env_names(names)
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        name, value = line.split('=', 1)
        values[name.strip()] = value.strip().strip('"\'')
    return StoredCredentials(bool(values.get(chosen['token'])), values.get(chosen['agent_id']) or None,
                             parse_issued_at(values.get(ISSUED_AT_VARIABLE)))


def read_credentials(path, file_format, names=None):
    """StoredCredentials of the file at path; an empty one when it is missing or unreadable."""
    try:
        with open(path) as handle:
            text = handle.read()
        modified = os.stat(path).st_mtime
    except OSError:
        return StoredCredentials()
    if file_format == ENV_FORMAT:
        return parse_env_file(text, names)
    issued = datetime.datetime.fromtimestamp(modified, datetime.timezone.utc)
    return StoredCredentials(bool(text.strip()), None, issued)


def write_credentials(path, file_format, agent_id, token, issued_at, names=None):
    if file_format == ENV_FORMAT:
        write_secret_text(path, render_env_file(agent_id, token, issued_at, names))
    else:
        write_secret_file(path, token)


def same_content(first, second):
    try:
        with open(first, 'rb') as one, open(second, 'rb') as other:
            return one.read() == other.read()
    except OSError:
        return False


def keep_backup(path, fresh=False):
    """Copy the file to <path>.previous before it receives a successor's credentials.

    fresh=False (a rotation resumed): once, never over an existing backup, which holds the credentials the rotation
    replaces, not the new ones. fresh=True (a rotation that starts): any backup there is stale, left by an earlier
    rotation stopped after its rename (it names a deleted agent), so it is replaced, or removed when there is no file.
    """
    backup = path + BACKUP_SUFFIX
    if not os.path.isfile(path):
        if fresh:
            drop_backup(path)
        return
    if os.path.exists(backup) and not fresh:
        return
    with open(path) as handle:
        write_secret_text(backup, handle.read())


def drop_backup(path):
    try:
        os.unlink(path + BACKUP_SUFFIX)
    except FileNotFoundError:
        pass


def holds_credentials_of(path, file_format, agent_id, names=None):
    """Whether the file holds the token of this agent.

    An env file says its agent id. A plain token file does not: it holds a new
    agent's token when it differs from the backup taken before that token came.
    """
    stored = read_credentials(path, file_format, names)
    if not stored.has_token:
        return False
    if file_format == ENV_FORMAT:
        return stored.agent_id == agent_id
    return not same_content(path, path + BACKUP_SUFFIX)


def parse_duration(text):
    """Seconds in a duration such as 90d, 12h, 30m, 45s or 2w (a bare number is days), or None when it is not one."""
    match = DURATION.match(str(text))
    if not match:
        return None
    return int(match.group(1)) * SECONDS_PER_UNIT[match.group(2)]
