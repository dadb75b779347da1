# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The desired-state engine of every piopiy.voice module: plan, apply, settle.

1. Plan. A task reads what exists and compares it with what it asks for. The
   result is a Plan: the operations `(action, key, before, after)` that reach
   the desired state, and every problem found on the way. A task with any
   problem fails before its first write, naming them all. Check mode ends
   here and reports the plan.
2. Apply. The write door sends a plan's operations, stage by stage, at most
   `workers` at a time. It is the only code that sends POST, PATCH or DELETE,
   and the only place that records operations for the audit trail.
3. Settle. A write whose outcome is ambiguous (a dropped connection, a 5xx, an
   odd answer) is read back by the resource's settle function, which the
   client calls inside its one retry budget. `changed` counts only the writes
   the API confirmed.

An operation whose input only exists once an earlier one is applied (the id of
an agent the plan creates) holds a Pending in its place: shown as its label in
check mode, resolved from the earlier operation's confirmed answer when
applied, and never sent unresolved.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import PiopiyAPIError, AmbiguousWriteError

# The fields that name the resource of an operation in its record, by resource kind.
IDENTITY_FIELDS = {'agent': ('id', 'name'), 'route': ('phone_number', 'agent_id'), 'phone_number': ('phone_number', 'id')}


class Pending:
    """A value that only an earlier operation of the plan produces, "known after apply"."""

    def __init__(self, label):
        self.label = label
        self.value = None
        self.known = False

    def resolve(self, value):
        self.value = value
        self.known = bool(value)

    def __repr__(self):
        return 'Pending(%r)' % (self.value if self.known else self.label)


def rendered(value):
    """value with every Pending replaced by its value once known, else by its label: what a result shows."""
    if isinstance(value, Pending):
        return value.value if value.known else value.label
    if isinstance(value, dict):
        return dict((key, rendered(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [rendered(item) for item in value]
    return value


def unresolved(value):
    """The Pending values in value that are not known yet."""
    if isinstance(value, Pending):
        return [] if value.known else [value]
    if isinstance(value, dict):
        return [pending for item in value.values() for pending in unresolved(item)]
    return []


class Operation:
    """One write of a plan.

    action: create, update, delete, map, unmap, buy or release; resource: agent, route or phone_number; key: what names the
    resource to a person (an agent's name, a phone number). before and after: the whole resource,
    None where it does not exist. send(after) makes the write with the resolved `after` and returns
    the resource the API confirmed (None after a removal). produces: {field: Pending} that the
    confirmed resource resolves. requires: operations that must be applied first, or this one is
    not sent. stage: operations of one stage are independent and may run at once; stages run in order. owner: the
    environment whose part of a workspace plan it is (None for a task of one environment).
    on_confirmed(resource): optional, called by the write door with the resource the API confirmed, before
    anything that requires the operation is sent, such as storing the token of an agent it creates; an API
    error it raises fails the operation, so that nothing that needs it follows.
    uncertain: the current state could not be read, so whether the write changes anything is unknown until it is sent
    (check mode reports it as neither a change nor no change).
    """

    def __init__(self, action, resource, key, before, after, send, stage=0, produces=None, requires=(), owner=None,
                 on_confirmed=None):
        self.action = action
        self.resource = resource
        self.key = key
        self.before = before
        self.after = after
        self.send = send
        self.stage = stage
        self.produces = produces or {}
        self.requires = list(requires)
        self.owner = owner
        self.on_confirmed = on_confirmed
        self.uncertain = False

    def summary(self):
        """(action, key, before, after) as a result shows them: the plan as data."""
        return (self.action, self.key, rendered(self.before), rendered(self.after))

    def record(self, after):
        """The item of the `operations` return value (and so of the audit trail) for this operation; an operation with an
        owner (piopiy_fleet's environment) names it as `environment`."""
        whole = after or self.before or {}
        identity = dict((field, rendered(whole.get(field))) for field in IDENTITY_FIELDS[self.resource])
        if self.owner is not None:
            identity['environment'] = self.owner
        return dict(op=self.action, resource=self.resource, before=rendered(self.before), after=rendered(after), **identity)

    def __repr__(self):
        return 'Operation%r' % (self.summary(),)


class Plan:
    """The operations that reach the desired state, and the problems that forbid trying."""

    def __init__(self, operations=(), problems=(), facts=None):
        self.operations = list(operations)
        self.problems = list(problems)
        self.facts = dict(facts or {})  # returned beside a failure, such as the numbers a problem names

    def extend(self, other):
        self.operations.extend(other.operations)
        self.problems.extend(other.problems)
        self.facts.update(other.facts)
        return self

    def stages(self):
        numbers = sorted(set(operation.stage for operation in self.operations))
        return [[operation for operation in self.operations if operation.stage == number] for number in numbers]


APPLIED = 'applied'
FAILED = 'failed'  # the API refused it, or a read-back proved it was not applied
UNKNOWN = 'unknown'  # the API may or may not have applied it, and no read-back could tell
NOT_SENT = 'not sent'  # an input it depends on never became known
UNCERTAIN = 'uncertain'  # check mode: it would be sent, but whether it changes anything cannot be known beforehand


class Outcome:
    """What became of one operation: its status, the confirmed resource when applied, the error otherwise."""

    def __init__(self, operation, status, resource=None, error=None, written=False):
        self.operation = operation
        self.status = status
        self.resource = resource
        self.error = error
        # The API applied the write, but what had to follow it (on_confirmed) failed: nothing that needs it is sent, and
        # the write is still one of the task's changes, recorded with the resource the API confirmed.
        self.written = written

    @property
    def applied(self):
        return self.status == APPLIED

    @property
    def made(self):
        """The API applied the write, whether or not what had to follow it succeeded."""
        return self.applied or self.written

    def describe_failure(self):
        return '%s %s: %s' % (self.operation.action, self.operation.key, self.error)


class SkippedWrite(dict):
    """The answer of a send that found nothing left to do, such as an unmap of a number another run re-routed meanwhile.

    It holds what the send found (the route read fresh, or nothing); the operation is reported neither as a change nor
    as a failure.
    """

    def __init__(self, resource):
        super().__init__(resource or {})


def was_skipped(outcome):
    return isinstance(outcome.resource, SkippedWrite)


def confirmed(sent, answer):
    """The resource a write's answer confirms, both normalized: fields the answer leaves out are those that were sent."""
    return dict(sent, **dict((field, value) for field, value in answer.items() if value is not None))


def planned_outcomes(plan):
    """Check mode: every operation as if the API had applied it as planned; an uncertain one as uncertain."""
    return [Outcome(operation, UNCERTAIN if operation.uncertain else APPLIED, operation.after) for operation in plan.operations]


class WriteDoor:
    """The one door for writes: sends a plan's operations, `workers` at a time, and keeps what was confirmed."""

    def __init__(self, workers=1):
        self.workers = workers

    def apply(self, plan):
        outcomes = []
        for stage in plan.stages():
            # A set (operations hash by identity): each of thousands of maps looks up the create it requires.
            applied = set(outcome.operation for outcome in outcomes if outcome.applied)
            outcomes.extend(self._run_stage(stage, applied))
        return outcomes

    def _run_stage(self, operations, applied):
        def execute(operation):
            return self._execute(operation, applied)
        if self.workers <= 1 or len(operations) <= 1:
            return [execute(operation) for operation in operations]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(operations))) as pool:
            return list(pool.map(execute, operations))

    @staticmethod
    def _execute(operation, applied):
        failed_first = [required for required in operation.requires if required not in applied]
        if failed_first:
            needs = ', '.join('%s %s' % (required.action, required.key) for required in failed_first)
            return Outcome(operation, NOT_SENT, error='not sent: it needs %s first, which did not succeed' % needs)
        produced = list(operation.produces.values())
        missing = [pending for pending in unresolved(operation.after) if not any(pending is made for made in produced)]
        if missing:
            labels = ', '.join(pending.label for pending in missing)
            return Outcome(operation, NOT_SENT, error='not sent: %s is not known, as the operation that makes it did not succeed' % labels)
        try:
            confirmed = operation.send(_inputs(operation, produced))
        except AmbiguousWriteError as error:
            return Outcome(operation, UNKNOWN, error=error)
        except PiopiyAPIError as error:
            return Outcome(operation, FAILED, error=error)
        if operation.on_confirmed is not None:
            try:
                operation.on_confirmed(confirmed)
            except PiopiyAPIError as error:
                return Outcome(operation, FAILED, confirmed, error=error, written=True)
        for field, pending in operation.produces.items():
            pending.resolve((confirmed or {}).get(field))
        return Outcome(operation, APPLIED, confirmed)


def _inputs(operation, produced):
    """What send gets: `after` with every Pending it consumes resolved, and the fields it produces left None."""
    if operation.after is None:
        return None
    return dict((field, None if any(value is made for made in produced) else rendered(value))
                for field, value in operation.after.items())


def report(outcomes):
    """(operations records, failures, changed) of a set of outcomes; changed only from what was applied, not skipped."""
    records = [outcome.operation.record(outcome.resource) for outcome in outcomes if outcome.made and not was_skipped(outcome)]
    failures = [outcome for outcome in outcomes if not outcome.applied and outcome.status != UNCERTAIN]
    return records, failures, bool(records)


def uncertain_records(outcomes):
    """The records of the check-mode outcomes that are neither a change nor no change (the result's `unknown`)."""
    return [outcome.operation.record(outcome.resource) for outcome in outcomes if outcome.status == UNCERTAIN]


def failure_message(outcomes, failures):
    """One message for every write that did not go through, saying what did."""
    applied = len(outcomes) - len(failures)
    unknown = [failure for failure in failures if failure.status == UNKNOWN]
    text = '%d of %d change(s) failed (%d applied)' % (len(failures), len(outcomes), applied)
    written = [failure for failure in failures if failure.written]
    if written:
        text += ', %d of them applied by the API though what had to follow failed' % len(written)
    if unknown:
        text += ', %d of them with an outcome the API did not confirm: run the task again to read and converge' % len(unknown)
    return text + ': ' + '; '.join(failure.describe_failure() for failure in failures)


def first_api_error(failures):
    """The status, error code and request id of the first failure the API answered, for a rescue to test."""
    for failure in failures:
        if isinstance(failure.error, PiopiyAPIError):
            return failure.error.facts()
    return {'status': None, 'error_code': None, 'request_id': None}


def problems_message(problems):
    """One message for every problem that stops a task before its first write."""
    if len(problems) == 1:
        return problems[0]
    return '%d problems, nothing was changed: %s' % (len(problems), ' '.join('(%d) %s' % pair for pair in enumerate(problems, 1)))
