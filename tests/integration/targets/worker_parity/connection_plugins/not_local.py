# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The local connection under another name, for worker.yml: a task on it runs on this machine, but not on a connection
the fleet's action plugin knows to be local, so it runs the module itself (AnsiballZ, a new Python), check mode included,
which async refuses before ansible-core 2.19."""

from __future__ import annotations

from ansible.plugins.connection.local import DOCUMENTATION as LOCAL_DOCUMENTATION
from ansible.plugins.connection.local import Connection as LocalConnection

DOCUMENTATION = LOCAL_DOCUMENTATION.replace('name: local', 'name: not_local', 1)


class Connection(LocalConnection):
    transport = 'not_local'
