# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Files that hold a secret, such as a new agent's token: checked before any write to the API, written atomically, mode 0600."""

from __future__ import annotations

import os
import tempfile


def secret_file_problem(path):
    """None when a secret can be written at path, else the reason.

    Only a regular file is ever replaced: replacing /dev/null or a FIFO with a
    file of secrets would be a surprise for everyone else on the host.
    """
    if path.endswith(os.sep) or os.path.isdir(path):
        return 'it names a directory, not a file'
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
