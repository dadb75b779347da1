# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A lock per agent name, on the machine that runs the module, so that runs there that could create one agent take turns.

Piopiy does not keep agent names unique. Two runs started together that both
read "no agent named X" would both create one. The lock is an exclusive
flock on a file whose name is a digest of the API base, a digest of the API
key (the workspace; never the key itself) and the agent name, in a directory
of this user's own under the temporary directory. A run holds it from before
its read until after its writes, so the next run reads what the first made.
The kernel releases it when its holder ends, however it ends, so a lock file
left behind never blocks anyone. Waiting is bounded: a holder that keeps it
longer than the timeout makes the waiter fail, naming the file and the pid of
the holder.

Runs on other machines are not covered by it; the convergence rule is (see
piopiy_fleet: of several agents with one name, the lowest id is kept).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import time

DEFAULT_LOCK_TIMEOUT = 300
POLL_SECONDS = 0.05


class LockTimeout(Exception):
    """The lock was not free within the timeout; str() says which lock, who holds it and what to do."""


def lock_dir(base=None):
    """This user's directory of lock files under the temporary directory (or base), made 0700 if missing."""
    uid = os.getuid() if hasattr(os, 'getuid') else 0
    return os.path.join(base or tempfile.gettempdir(), 'piopiy-voice-locks-%d' % uid)


def lock_path(api_base, api_key, name, base=None):
    """The lock file of one agent name in one workspace: the key itself never appears, only a digest of its digest."""
    return _lock_file('agent', (api_base.rstrip('/'), _digest(api_key), name), base)


def workspace_lock_path(api_base, api_key, base=None):
    """The lock file of a whole workspace, which a fleet run holds: fleets of one workspace on this machine take turns."""
    return _lock_file('fleet', (api_base.rstrip('/'), _digest(api_key)), base)


def capabilities_path(api_base, api_key, base=None):
    """The run's capability cache of one workspace (client_capabilities), beside its lock files, named as they are."""
    return os.path.join(lock_dir(base), 'capabilities-%s.json' % _digest('\n'.join((api_base.rstrip('/'), _digest(api_key))))[:32])


def _digest(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _lock_file(kind, identity, base):
    return os.path.join(lock_dir(base), '%s-%s.lock' % (kind, _digest('\n'.join(identity))[:32]))


def own_directory(path):
    """Make the directory (0700), or check that the existing one is this user's and no one else can write to it."""
    try:
        os.mkdir(path, 0o700)
    except OSError as error:
        if error.errno != errno.EEXIST:
            raise
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, 'getuid') and info.st_uid != os.getuid()) or info.st_mode & 0o022:
        raise OSError(errno.EPERM, 'lock directory %s is not a directory of this user that only this user can write to: '
                      'remove it, and the next run makes it again' % path)


class AgentLock:
    """An exclusive lock on one lock file, as a context manager; the holder's pid is written in the file for waiters to name."""

    def __init__(self, path, timeout=DEFAULT_LOCK_TIMEOUT, what='the agent'):
        self.path = path
        self.timeout = timeout
        self.what = what
        self.handle = None
        self.waited = 0.0

    def acquire(self):
        own_directory(os.path.dirname(self.path))
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if time.monotonic() - start >= self.timeout:
                holder = _holder(fd)
                os.close(fd)
                raise LockTimeout('another run on this machine has held the lock on %s for more than lock_timeout=%ss (lock file %s, '
                                  'held by %s): wait for it to end and run again, or raise lock_timeout'
                                  % (self.what, self.timeout, self.path, holder))
            time.sleep(POLL_SECONDS)
        self.waited = time.monotonic() - start
        os.ftruncate(fd, 0)
        os.write(fd, ('%d\n' % os.getpid()).encode('ascii'))
        self.handle = fd
        return self

    def release(self):
        if self.handle is not None:
            fd, self.handle = self.handle, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *unused):
        self.release()
        return False


def _holder(fd):
    """Who holds the lock, as its file says: the pid its holder wrote."""
    try:
        text = os.pread(fd, 64, 0).decode('ascii', 'replace').strip()
    except OSError:
        text = ''
    return 'pid %s' % text if text.isdigit() else 'a process that has not written its pid yet'
