# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rotating an agent's credentials by replacement, resumable from the workspace's own state.

Piopiy issues an agent's token only in the answer that creates it, so a new
token means a new agent. The rotation of agent NAME (id OLD) goes:

1. create the successor, named NAME--rotating-OLD, with the same language;
2. write its credentials to the token file (the old file kept as <file>.previous);
3. (the caller's hand-over: restart the runtime with the new credentials);
4. re-route every number of OLD to the successor with the upsert POST, never deleting a route;
5. delete OLD (after an optional drain time), rename the successor to NAME.

The successor's name carries the id it replaces, so a later run reads where an
interrupted rotation stopped from the agents alone: no successor (nothing in
progress), a successor beside OLD (prepared: steps 1-2 done, maybe some of 4),
or a successor alone (old deleted: only the rename is left). The rotation id,
`rotation-OLD`, is the same for every run of one rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import GET_AGENT, LIST_ROUTES, UPDATE_AGENT
from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import DEFAULT_LANGUAGE, normalize_agent, plan_agent_absent, plan_agent_present
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Operation, Plan, confirmed
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import plan_routes_present

SUCCESSOR_MARKER = '--rotating-'
IDLE = 'idle'  # no rotation in progress
PREPARED = 'prepared'  # the successor exists beside the old agent
OLD_DELETED = 'old_deleted'  # the old agent is gone; the successor still has its temporary name


def successor_name(name, old_id):
    return '%s%s%s' % (name, SUCCESSOR_MARKER, old_id)


def rotation_id(old_id):
    return 'rotation-%s' % old_id


def rotation_problem_in_progress(agents, name):
    """A problem for a task that writes agent `name` or its routes, while a rotation of that agent is in progress, else None.

    In progress means what read_rotation says: a successor NAME--rotating-OLD exists. Until the rotation completes, the
    runtime may already use the successor's credentials, so no other task may create, change or re-route the agent.
    """
    state = read_rotation(agents, name) if name else RotationState()
    if not state.in_progress:
        return None
    successor = state.successor or state.successors[0]
    abandon = (', or delete the successor to abandon it' if state.canonical is not None
               else ' (the old agent is already deleted, so the successor is the agent the runtime uses)')
    return ('a credential rotation of agent %r is in progress (%s, successor %s, %s): finish it first with '
            'piopiy.voice.piopiy_agent_rotation name=%s and the token_file it writes (in the support_agent role: '
            'support_agent_rotate=now)%s'
            % (name, rotation_id(successor['name'][len(name + SUCCESSOR_MARKER):]), successor['name'], successor['id'], name, abandon))


def rotation_problem_of_agent(agents, agent):
    """rotation_problem_in_progress for a task that names the agent by id: the rotation of its name, or of the agent
    it is the successor of (NAME--rotating-OLD is written only by the rotation, never by another task)."""
    name = (agent or {}).get('name') or ''
    return rotation_problem_in_progress(agents, name.rsplit(SUCCESSOR_MARKER, 1)[0]) if name else None


def successors_of(agents, name):
    prefix = name + SUCCESSOR_MARKER
    unique = dict((agent.get('id'), agent) for agent in agents if (agent.get('name') or '').startswith(prefix))
    return sorted(unique.values(), key=lambda agent: agent['id'])


@dataclass
class RotationState:
    """Where the rotation of one agent stands, read from the workspace's agents alone: the one definition of "in progress".

    canonical: the agent named NAME (None when there is none); successor: the agent named
    NAME--rotating-OLD (None when none, or when there are several); successors: every agent named so;
    old_id: the id the rotation replaces; problem: why no rotation can go on (two agents named NAME,
    two successors, or a successor of another agent than the one named NAME).
    """

    canonical: Optional[dict] = None
    successor: Optional[dict] = None
    old_id: Optional[str] = None
    problem: Optional[str] = None
    successors: list = field(default_factory=list)

    @property
    def phase(self):
        if self.successor is None:
            return IDLE
        return PREPARED if self.canonical is not None else OLD_DELETED

    @property
    def in_progress(self):
        """Whether a rotation of the agent is in progress: a successor exists (one, or several by mistake)."""
        return bool(self.successors)

    @property
    def rotation_id(self):
        old_id = self.old_id or (self.canonical or {}).get('id')
        return rotation_id(old_id) if old_id else None


def read_rotation(agents, name):
    """The RotationState of agent `name` among `agents` (list items; the canonical one may lack its language)."""
    canonical = list(dict((agent.get('id'), agent) for agent in agents if agent.get('name') == name).values())
    successors = successors_of(agents, name)
    if len(canonical) > 1:
        return RotationState(problem='%d agents are named %r (ids: %s): a rotation needs exactly one; delete the others'
                             % (len(canonical), name, ', '.join(sorted(agent['id'] for agent in canonical))), successors=successors)
    current = normalize_agent(canonical[0]) if canonical else None
    if len(successors) > 1:
        return RotationState(current, problem='%d successors of agent %r exist (%s): a rotation makes one; delete all but the one '
                                              'the token file holds, then run again'
                                              % (len(successors), name, ', '.join('%s %s' % (a['name'], a['id']) for a in successors)),
                             successors=successors)
    if not successors:
        return RotationState(current)
    successor = normalize_agent(successors[0])
    old_id = successor['name'][len(name + SUCCESSOR_MARKER):]
    if current is not None and current['id'] != old_id:
        return RotationState(current, successor, old_id,
                             problem='agent %s (%s) succeeds agent %s, but the agent named %r is %s: delete the stray successor, '
                                     'then run again' % (successor['name'], successor['id'], old_id, name, current['id']),
                             successors=successors)
    return RotationState(current, successor, old_id, successors=successors)


def missing_calls_problem(capabilities, state, book, prepares, finishes):
    """The problem of a rotation step the API's calls cannot do, before any write, or None (the published calls alone).

    Preparing creates the successor with the old agent's language, which must be known. Finishing re-routes the old
    agent's numbers, which needs the routes list, and renames the successor, which needs the update call. A rotation
    that could not finish is never started, so the workspace is left as it was; one whose old agent is gone already
    only lacks the rename.
    """
    needs = []
    if prepares and state.phase == IDLE and state.canonical is not None and state.canonical.get('language') is None:
        needs.append((GET_AGENT, 'the language of %r, which the successor keeps' % state.canonical['name']))
    if finishes and state.phase != OLD_DELETED and book is not None and not book.known:
        needs.append((LIST_ROUTES, 'the numbers of the old agent, to move them to the successor'))
    if finishes and capabilities.lacks(UPDATE_AGENT):
        needs.append((UPDATE_AGENT, 'renaming the successor to %r' % (state.canonical or state.successor or {}).get('name')))
    missing = [(call, why) for call, why in needs if capabilities.lacks(call) or call == LIST_ROUTES]
    if not missing:
        return None
    text = ('the rotation needs %s, which this API does not have (it is not among Piopiy\'s published calls). Nothing was changed'
            % '; and '.join('%s for %s' % (call, why) for call, why in missing))
    if state.phase == OLD_DELETED:
        return text + (': rename agent %s (%s) to the agent\'s name in the Piopiy dashboard, which ends the rotation'
                       % (state.successor['name'], state.successor['id']))
    return text + (': on the published calls alone, rotate by hand: create a new agent, map the numbers to it (a map replaces a '
                   'route), and delete the old agent once no number routes to it')


def plan_create_successor(client, state, keep_token, stage=0):
    """Step 1 (and 2, through keep_token): (plan, the successor's id as a Pending)."""
    old = state.canonical
    return plan_agent_present(client, None, successor_name(old['name'], old['id']), old.get('language') or DEFAULT_LANGUAGE,
                              keep_token, stage)


def plan_replace_lost_successor(client, state, book, keep_token):
    """A successor whose token was never stored (a run killed between its create and the write): delete it, make another.

    Only while no number routes to it yet; the rotation stays one rotation, with one successor at a time.
    """
    routed = book.routed_to(state.successor['id'])
    if routed:
        return Plan(problems=['successor %s (%s) has numbers routed to it (%s) but the token file does not hold its token: '
                              'restore the token file from %s.previous, or finish by hand'
                              % (state.successor['name'], state.successor['id'], ', '.join(routed), 'token_file')]), None
    delete = plan_agent_absent(client, state.successor, [], stage=0)
    create, successor_id = plan_create_successor(client, state, keep_token, stage=1)
    for operation in create.operations:
        operation.requires = list(delete.operations)
    return delete.extend(create), successor_id


def plan_finish(client, state, book, successor, name, drain, stage=0, made_by=()):
    """Steps 4 and 5: re-route, delete the old agent, rename the successor. successor: its agent dict (id may be a Pending).

    made_by: the operations of this plan that create the successor and store its credentials. The old agent is deleted
    only once they and every move have succeeded: an old agent without numbers has no move to wait for, and deleting it
    after a failed create would leave the workspace without the agent, or with a successor whose token nobody holds.
    """
    plan = Plan()
    requires = []
    if state.canonical is not None:
        old_id = state.canonical['id']
        maps = plan_routes_present(client, book, book.routed_to(old_id), successor['id'], exclusive=False, stage=stage)
        delete = drained_delete(client, state.canonical, drain, stage + 1, list(made_by) + maps.operations)
        plan.extend(maps).operations.append(delete)
        requires = [delete]
    plan.operations.append(rename(client, successor, name, stage + 2, requires))
    return plan


def drained_delete(client, old, drain, stage, requires):
    """Delete the old agent once every number has moved (requires), after the drain time for the calls in progress on it."""
    def send(unused_after):
        drain()
        client.delete_agent(old['id'])
        return None
    return Operation('delete', 'agent', old['name'], old, None, send, stage=stage, requires=requires)


def rename(client, successor, name, stage, requires):
    def send(resolved):
        return confirmed(resolved, normalize_agent(client.update_agent(resolved['id'], {'name': name})))
    return Operation('update', 'agent', successor['name'], successor, dict(successor, name=name), send, stage=stage, requires=requires)


def due_reason(stored, max_age_seconds, now):
    """Why max_age rotation is due now, or None: the token file lacks a token, or its issue time is older than the maximum age."""
    if not stored.has_token:
        return 'the token file holds no token'
    if max_age_seconds is None or stored.issued_at is None:
        return None
    age = (now - stored.issued_at).total_seconds()
    if age >= max_age_seconds:
        return 'the token was issued %s, %d second(s) ago, beyond token_max_age' % (stored.issued_at.strftime('%Y-%m-%dT%H:%M:%SZ'), age)
    return None
