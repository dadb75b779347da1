# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The lock on an agent name: runs on one machine take turns, a wait is bounded, a holder that ends releases it. No HTTP."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Operation, Plan
from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import AgentLock, LockTimeout, lock_dir, lock_path, workspace_lock_path
from ansible_collections.piopiy.voice.plugins.module_utils.engine_loop import TaskFailure
from ansible_collections.piopiy.voice.plugins.module_utils.task_module import PiopiyTask, TaskReport, run_task

BASE = 'http://127.0.0.1:8080/v1'
KEY = 'pk_test_acme_0001'


@pytest.fixture
def path(tmp_path):
    return lock_path(BASE, KEY, 'prod-support-agent', base=str(tmp_path))


def test_the_lock_file_is_named_by_workspace_and_name_never_by_the_key(tmp_path):
    base = str(tmp_path)
    first = lock_path(BASE, KEY, 'prod-support-agent', base=base)
    assert first == lock_path(BASE + '/', KEY, 'prod-support-agent', base=base)
    assert os.path.dirname(first) == lock_dir(base) and KEY not in first
    others = [lock_path(BASE, KEY, 'dev-support-agent', base=base), lock_path(BASE, 'pk_test_other_0001', 'prod-support-agent', base=base),
              lock_path('https://api.piopiy.com/v1', KEY, 'prod-support-agent', base=base)]
    assert len(set(others + [first])) == 4


def test_a_fleet_locks_its_whole_workspace_in_a_file_of_its_own_kind(tmp_path):
    base = str(tmp_path)
    fleet = workspace_lock_path(BASE, KEY, base=base)
    assert fleet == workspace_lock_path(BASE + '/', KEY, base=base) and KEY not in fleet
    assert os.path.basename(fleet).startswith('fleet-') and os.path.dirname(fleet) == lock_dir(base)
    assert fleet not in (lock_path(BASE, KEY, '', base=base), workspace_lock_path(BASE, 'pk_test_other_0001', base=base))


def test_a_second_holder_in_another_thread_waits_until_the_first_releases(path):
    order = []
    first = AgentLock(path, timeout=5).acquire()

    def second():
        with AgentLock(path, timeout=5) as lock:
            order.append(('second', lock.waited))

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    order.append(('first releases', None))
    first.release()
    thread.join(5)
    assert [step for step, unused in order] == ['first releases', 'second']
    assert order[1][1] >= 0.25


def test_a_wait_is_bounded_and_names_the_lock_file_and_the_holder(path):
    with AgentLock(path, timeout=5):
        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            AgentLock(path, timeout=0.3, what="agent name 'prod-support-agent'").acquire()
        assert 0.3 <= time.monotonic() - started < 2
    message = str(raised.value)
    assert path in message and 'pid %d' % os.getpid() in message and 'lock_timeout=0.3' in message
    assert "agent name 'prod-support-agent'" in message
    with AgentLock(path, timeout=0):  # free again once released
        pass


def _hold(path, held, release):
    lock = AgentLock(path, timeout=5).acquire()
    held.set()
    release.wait(10)
    if release.is_set():
        lock.release()
    os._exit(0)  # pylint: disable=protected-access  # ends without release when not asked to: the kernel releases it


def test_processes_take_turns_and_a_holder_that_ends_releases_the_lock(path):
    context = multiprocessing.get_context('fork')
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(path, held, release))
    holder.start()
    assert held.wait(10)
    with pytest.raises(LockTimeout) as raised:
        AgentLock(path, timeout=0.2).acquire()
    assert 'pid %d' % holder.pid in str(raised.value)
    threading.Timer(0.3, release.set).start()
    with AgentLock(path, timeout=5) as lock:
        assert lock.waited >= 0.2
    holder.join(10)

    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(path, held, release))
    holder.start()
    assert held.wait(10)
    holder.terminate()  # killed while holding it
    holder.join(10)
    with AgentLock(path, timeout=1) as lock:
        assert lock.waited < 1


def test_a_lock_directory_others_can_write_to_is_refused(tmp_path):
    path = lock_path(BASE, KEY, 'prod-support-agent', base=str(tmp_path))
    os.mkdir(os.path.dirname(path), 0o700)
    os.chmod(os.path.dirname(path), 0o777)
    with pytest.raises(OSError) as raised:
        AgentLock(path, timeout=0).acquire()
    assert 'only this user can write to' in str(raised.value)


# ---- run_task holds a task's lock from before its read until after its last write ----

class FakeModule:
    def __init__(self):
        self.params = {'api_key': KEY, 'api_base': BASE, 'timeout': 1.0, 'validate_certs': True, 'api_profile': 'extended'}
        self.check_mode = False

    def warn(self, unused_message):
        pass


class LockedTask(PiopiyTask):
    """Notes, at each step, whether another holder could take the lock."""

    kind = 'agent'

    def __init__(self, path, timeout=5):
        super().__init__(FakeModule())
        self.path = path
        self.timeout = timeout
        self.free_at = []
        self.steps = []

    def note(self, step):
        self.steps.append(step)
        try:
            AgentLock(self.path, timeout=0).acquire().release()
            self.free_at.append(step)
        except LockTimeout:
            pass

    def lock(self):
        return AgentLock(self.path, timeout=self.timeout)

    def read(self, client, round_number):
        self.note('read')
        return {}

    def plan(self, client, state, round_number):
        def send(after):
            self.note('write')
            return after
        return Plan([Operation('create', 'agent', 'one', None, {'id': 'agent_1', 'name': 'one'}, send)])

    def another_round(self, client, outcomes):
        self.note('converge')
        return False

    def result(self, loop):
        return TaskReport({})


def test_run_task_holds_the_lock_over_read_writes_and_convergence_and_releases_it(path):
    task = LockedTask(path)
    assert run_task(task.module, task)['changed'] is True
    assert task.steps == ['read', 'write', 'converge'] and task.free_at == []
    AgentLock(path, timeout=0).acquire().release()


def test_run_task_fails_before_its_read_when_the_lock_stays_taken(path):
    task = LockedTask(path, timeout=0.1)
    with AgentLock(path, timeout=0):
        with pytest.raises(TaskFailure) as failed:
            run_task(task.module, task)
    assert failed.value.facts['lock_file'] == path and path in failed.value.msg and task.steps == []
