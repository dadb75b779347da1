# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Stand-in for the pip bootstrap script that ansible-test downloads before building a venv.

The download host is out of reach on our build machines, so `make` installs
this file where ansible-test looks for a cached copy. ansible-test runs it
with pip install arguments; ensurepip provides pip and pip installs them.
"""

from __future__ import annotations

import subprocess
import sys

DROPPED_OPTIONS = ('--no-setuptools', '--no-wheel')


def main():
    arguments = [argument for argument in sys.argv[1:] if argument not in DROPPED_OPTIONS]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + arguments)


if __name__ == '__main__':
    main()
