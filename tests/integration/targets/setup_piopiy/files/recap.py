# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks which hosts the PLAY RECAP of an ansible-playbook run counts changed, and how many times each.

Usage: recap.py OUTPUT EXPECTED; OUTPUT is a file that holds the run's output, EXPECTED the hosts whose changed
count is above 0, as host=count separated by spaces, in any order ('' when the recap counts no change).
Exits non-zero, with the output and the difference, when the recap says otherwise or is missing.
"""

from __future__ import annotations

import re
import sys

HOST = re.compile(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s', re.MULTILINE)


def changed(output):
    """{host: changed count} of the hosts the last PLAY RECAP of the output counts changed, or None without one."""
    dummy, recap, after = output.rpartition('PLAY RECAP')
    if not recap:
        return None
    return {host: int(count) for host, count in HOST.findall(after) if int(count)}


def main(argv):
    with open(argv[1], encoding='utf-8') as stream:
        output = stream.read()
    expected = dict((host, int(count)) for host, count in (item.split('=') for item in argv[2].split()))
    got = changed(output)
    if got != expected:
        print(output)
        print('recap.py: expected the recap to count changed %s, got %s' % (expected, got), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
