# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which calls the API has: the capability record of a run, and its small per-run cache.

Piopiy publishes only some of the calls the collection can use (docs/piopiy-api.md);
a live account may answer 404, 405 or 501 to the others. The client learns such a
missing call on first contact (client_api decides when an answer means "this
call does not exist here") and, through this record, stops asking for it.

Modules are separate processes, so what one task learns reaches the next ones
through a cache file: one small JSON file per API base and key, beside the lock
files (engine_lock.lock_dir), mode 0600 in a 0700 directory of this user,
named by a digest of the API base and of a digest of the key (never the key).
Ansible gives a module no public run id, so "this run" is a time window:
an entry is used for CACHE_SECONDS after it was learned, long enough for a
playbook run, short enough that an account that gains the calls is used fully
again within the hour (api_profile=extended uses them at once). The file holds
only call names, times and the notices already given; a lost update between
two writers (each rewrites the whole file, atomically) costs at most one more
request that learns the call again.

The profile pins what is known: `extended` never learns (every call is tried,
exactly the requests of a full API), `published` knows every unpublished call
missing from the start (none is ever sent), `auto` learns.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass

AUTO, PUBLISHED, EXTENDED = 'auto', 'published', 'extended'
PROFILES = (AUTO, PUBLISHED, EXTENDED)
CACHE_SECONDS = 3600
# An answer to a call on an object a list just returned, or to a list itself, that says the call does not exist here.
MISSING_STATUSES = frozenset((404, 405, 501))


@dataclass(frozen=True)
class MissingCall:
    """A call this API does not have: its name (such as PATCH /ai-agents/{id}) and how that is known."""

    call: str
    reason: str


class CapabilityCache:
    """The run's cache file: {"missing": {call: [learned at, reason]}, "notices": {topic: given at}}; entries expire."""

    def __init__(self, path, seconds=CACHE_SECONDS, clock=time.time):
        self.path = path
        self.seconds = seconds
        self.clock = clock

    def load(self):
        """The entries not yet expired; an unreadable or foreign file counts as empty (the run learns again)."""
        try:
            with open(self.path, 'r', encoding='utf-8') as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {'missing': {}, 'notices': {}}
        if not isinstance(data, dict):
            data = {}
        now = self.clock()
        fresh = {}
        for section in ('missing', 'notices'):
            entries = data.get(section) if isinstance(data.get(section), dict) else {}
            fresh[section] = dict((key, value) for key, value in entries.items() if _fresh(value, now, self.seconds))
        return fresh

    def add(self, section, key, value):
        """Record one entry (stamped now) and write the whole file again, atomically, 0600."""
        data = self.load()
        data[section][key] = [self.clock()] + list(value)
        directory = os.path.dirname(self.path)
        fd, temporary = tempfile.mkstemp(prefix='.capabilities-', dir=directory)  # 0600
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                json.dump(data, handle, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise


def _fresh(value, now, seconds):
    return isinstance(value, list) and value and isinstance(value[0], (int, float)) and 0 <= now - value[0] < seconds


class Capabilities:
    """What this run knows of the API's calls: those missing (and why), and those seen answering.

    unpublished: every call the contract marks as not published, the only ones that can be missing.
    cache: a CapabilityCache shared by the run's tasks, or None (this process only).
    """

    def __init__(self, profile=AUTO, unpublished=(), cache=None):
        if profile not in PROFILES:
            raise ValueError('api_profile must be one of %s, not %r' % (', '.join(PROFILES), profile))
        self.profile = profile
        self.unpublished = frozenset(unpublished)
        self.cache = cache
        self._lock = threading.Lock()
        self._missing = {}
        self._answered = set()
        self._notices = set()
        self.cache_problem = None  # why the cache file could not be written, once
        if profile == PUBLISHED:
            for call in sorted(self.unpublished):
                self._missing[call] = MissingCall(call, 'api_profile is published, so it is never sent')
        if cache is not None and profile != EXTENDED:
            stored = cache.load()
            if profile == AUTO:
                for call, entry in stored['missing'].items():
                    if call in self.unpublished:
                        self._missing[call] = MissingCall(call, str(entry[1]) if len(entry) > 1 else 'learned earlier in this run')
            self._notices.update(stored['notices'])

    @property
    def learns(self):
        """Whether an answer can teach this record a missing call (auto only)."""
        return self.profile == AUTO

    def lacks(self, call):
        """The MissingCall when the call is known missing, else None."""
        with self._lock:
            return self._missing.get(call)

    def missing_calls(self):
        with self._lock:
            return sorted(self._missing)

    def answered(self, call):
        """The call has answered success in this process: a 404 from it is about an object, never about the call."""
        with self._lock:
            self._answered.add(call)

    def has_answered(self, call):
        with self._lock:
            return call in self._answered

    def learn(self, call, reason):
        """Record a missing call for the rest of the run; the MissingCall."""
        missing = MissingCall(call, reason)
        with self._lock:
            self._missing[call] = missing
        self._store('missing', call, [reason])
        return missing

    def first_notice(self, topic):
        """True the first time in the run a notice on this topic is asked for: a warning is then given once per run."""
        with self._lock:
            if topic in self._notices:
                return False
            self._notices.add(topic)
        self._store('notices', topic, [])
        return True

    def _store(self, section, key, value):
        if self.cache is None:
            return
        try:
            self.cache.add(section, key, value)
        except OSError as error:
            # The run still works, each task learning for itself: one more request per task and call.
            self.cache_problem = 'the capability cache %s cannot be written (%s)' % (self.cache.path, error.strerror or error)
