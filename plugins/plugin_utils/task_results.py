# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the piopiy.voice callbacks (audit, plan) read of a task result, the same on every ansible-core they support."""

from __future__ import annotations

import os

COLLECTION_PREFIX = 'piopiy.voice.'


def task_result_parts(result):
    """(task, host, result data, task fields) of the task result a callback method receives.

    ansible-core 2.19 and later pass a CallbackTaskResult with public attributes; 2.16 to 2.18 pass a TaskResult
    that has them only with a leading underscore (reading the public names there was the
    'Failure using method (v2_runner_on_ok)' of those versions). On 2.16 to 2.18 no public way exists: the private
    names are the only way a callback can read a result there, and they are read only when the public ones are absent.
    The callbacks' unit tests read both shapes, and `make test-matrix` runs the callback targets on 2.16 to 2.21.
    """
    if hasattr(result, 'task_fields'):
        return result.task, result.host, result.result, result.task_fields
    return result._task, result._host, result._result, result._task_fields


def piopiy_result_parts(result):
    """task_result_parts of the result of a piopiy.voice module, or None for any other module and for a loop's summary.

    A loop's summary result repeats what its items, each a result of its own, already said.
    """
    parts = task_result_parts(result)
    task, unused_host, data, unused_fields = parts
    if not (task.resolved_action or '').startswith(COLLECTION_PREFIX) or isinstance(data.get('results'), list):
        return None
    return parts


def environment_secrets():
    """The secrets a callback scrubs from what it writes beyond the patterns it knows: the API key of the environment."""
    return [key for key in (os.environ.get('PIOPIY_API_KEY'),) if key]
