# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The agent resource: finding an agent, and the plans that create, update or delete it.

Piopiy does not keep agent names unique, so finding by name refuses to guess:
two agents with one name are a problem the task reports, naming the option
that chooses one.
"""

from __future__ import annotations

import re

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    DELETE_ROUTE,
    GET_AGENT,
    UPDATE_AGENT,
    MissingCallError,
    PiopiyAPIError,
    Settled,
)
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Operation, Pending, Plan, confirmed

AGENT_FIELDS = ('id', 'name', 'language', 'status')
DEFAULT_LANGUAGE = 'en-US'
BCP47 = re.compile(r'^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$')
NEW_AGENT = '(new agent)'


def normalize_agent(raw):
    """An agent as the collection returns and compares it: exactly these fields, never the token."""
    return dict((field, raw.get(field)) for field in AGENT_FIELDS)


def language_problem(language):
    if language is not None and not BCP47.match(language):
        return 'language %r is not a BCP 47 tag: use a tag such as en-US, en-IN, hi-IN or ta-IN' % language
    return None


class Lookup:
    """What finding one agent gave: the agent (None when there is none), or the problem that stops the task."""

    def __init__(self, agent=None, problem=None):
        self.agent = agent
        self.problem = problem


def agents_named(agents, name):
    """The agents with exactly this name, each once: a list may repeat an item across pages."""
    unique = dict((agent.get('id'), agent) for agent in agents if agent.get('name') == name)
    return list(unique.values())


def find_by_name(client, name, id_option, agents=None, with_language=True):
    """The one agent with this name; id_option is the option that picks one of several.

    with_language: complete the agent's language, which costs a read when the list leaves it out.
    """
    matches = agents_named(client.list_agents() if agents is None else agents, name)
    if len(matches) > 1:
        ids = ', '.join(sorted(agent['id'] for agent in matches))
        return Lookup(problem='%d agents are named %r (ids: %s): set %s to choose one' % (len(matches), name, ids, id_option))
    if not matches:
        return Lookup(None)
    return Lookup(complete(client, matches[0]) if with_language else normalize_agent(matches[0]))


def find_by_id(client, agent_id):
    """The agent with this id; on an API without GET /ai-agents/{id}, the item of the agents' list (its language maybe unknown)."""
    try:
        agent = client.get_agent(agent_id)
    except MissingCallError:
        listed = [item for item in client.list_agents() if item.get('id') == agent_id]
        return Lookup(normalize_agent(listed[0]) if listed else None)
    return Lookup(normalize_agent(agent) if agent is not None else None)


def complete(client, item):
    """An agent list item with its language: list items may leave it out, and then only the agent itself tells it.

    None when the agent was deleted in between. On an API without GET /ai-agents/{id}, the item as listed: its
    language is then None, which means unknown (language_unknown says so).
    """
    if 'language' in item:
        return normalize_agent(item)
    try:
        agent = client.get_agent(item['id'])
    except MissingCallError:
        return normalize_agent(item)
    return normalize_agent(agent) if agent is not None else None


def language_unknown_warning(client, current, language):
    """The warning when the task asks for a language that cannot be compared with the agent's, else None."""
    if current is None or language is None or current.get('language') is not None:
        return None
    return ('the language of agent %r (%s) is unknown: the API\'s list leaves it out, and %s, so language=%s was not compared '
            'and is not changed (nothing was changed for it); check it in the Piopiy dashboard'
            % (current['name'], current['id'], _get_agent_missing(client), language))


def _get_agent_missing(client):
    missing = client.capabilities.lacks(GET_AGENT)
    return '%s is not available (%s)' % (GET_AGENT, missing.reason) if missing else 'the agent could not be read'


def update_advice(current, changes, reason=None):
    """What to do when an agent's name or language must change and the API has no update call."""
    wanted = ', '.join('%s from %r to %r' % (field, current.get(field), value) for field, value in sorted(changes.items()))
    return ('changing agent %r (%s): %s needs %s, which this API does not have%s. Nothing was changed: change it in '
            'the Piopiy dashboard, or delete the agent and create it again (a new agent has a new token, and its numbers must be '
            'mapped to it again)' % (current['name'], current['id'], wanted, UPDATE_AGENT, ' (%s)' % reason if reason else ''))


def plan_agent_present(client, current, name, language, keep_token, stage=0, update_missing=None):
    """(plan, the agent's id or a Pending for an agent the plan creates).

    A language of None keeps an existing agent's language and gives a new one the default.
    keep_token(token) receives the token of a created agent; None when its answer was lost.
    update_missing: the MissingCall of PATCH /ai-agents/{id} when the API is known not to have it: a change is then a problem.
    """
    if current is None:
        new_id = Pending(NEW_AGENT)
        after = {'id': new_id, 'name': name, 'language': language or DEFAULT_LANGUAGE, 'status': Pending(NEW_AGENT)}
        return Plan([_create(client, after, keep_token, stage)]), new_id
    # A language the agent's list item leaves out (None), and no way to read it, is unknown: never compared, never changed.
    changes = dict((field, value) for field, value in (('name', name), ('language', language))
                   if value is not None and current.get(field) != value and not (field == 'language' and current.get(field) is None))
    if not changes:
        return Plan(), current['id']
    if update_missing:
        return Plan(problems=[update_advice(current, changes, update_missing.reason)]), current['id']
    return Plan([_update(client, current, changes, stage)]), current['id']


def rename_problem(agents, current, name):
    """A problem when renaming the agent would give it the name of another agent: names must stay unambiguous."""
    others = sorted(agent['id'] for agent in agents_named(agents, name) if agent['id'] != current['id'])
    if not others:
        return None
    return ('name %r is already used by agent %s: renaming %s (%s) to it would leave %d agents with one name; '
            'choose another name, or delete the other agent first'
            % (name, ', '.join(others), current['name'], current['id'], len(others) + 1))


def plan_agent_absent(client, current, routed_numbers, stage=0, requires=(), routes_known=True):
    """Delete the agent; refused, as the API would refuse it, while numbers still route to it.

    routed_numbers: those that still route to it once the operations it requires are applied. routes_known: False when
    the routes could not be read: the DELETE is sent, and the API's refusal (409) says what to do without the route calls.
    """
    if current is None:
        return Plan()
    if routed_numbers:
        return Plan(problems=['agent %r (%s) still has %d number(s) routed to it: %s. Nothing was deleted: unmap them first, '
                              'with piopiy.voice.piopiy_number_route state=absent or piopiy_agent phone_numbers=[]'
                              % (current['name'], current['id'], len(routed_numbers), ', '.join(routed_numbers))],
                    facts={'numbers': list(routed_numbers)})

    def send(unused_after):
        try:
            client.delete_agent(current['id'])
        except PiopiyAPIError as error:
            if routes_known or error.status != 409:
                raise
            raise PiopiyAPIError(error.method, error.path, status=error.status, code=error.code, request_id=error.request_id,
                                 attempts=error.attempts, message=still_routed_message(client, current)) from None
        return None
    return Plan([Operation('delete', 'agent', current['name'], current, None, send, stage=stage, requires=requires)])


def still_routed_message(client, current):
    """The API's refusal to delete an agent that numbers still route to, on an API whose routes cannot be read or removed."""
    missing = client.capabilities.lacks(DELETE_ROUTE)
    return ('the API refused to delete agent %r (%s) because numbers still route to it; nothing was deleted. The published '
            'Piopiy API cannot remove a route%s: map those numbers to another agent (piopiy.voice.piopiy_number_route, or '
            'piopiy_agent phone_numbers on the other agent: a map replaces a route), or remove the routes in the Piopiy '
            'dashboard, then delete the agent again'
            % (current['name'], current['id'], ' (%s: %s)' % (DELETE_ROUTE, missing.reason) if missing else ''))


def _create(client, after, keep_token, stage):
    def send(resolved):
        answer = client.create_agent(resolved['name'], resolved['language'], settle=lambda: settle_create(client, resolved['name']))
        keep_token(answer.get('agent_token'))
        return confirmed(resolved, normalize_agent(answer))
    return Operation('create', 'agent', after['name'], None, after, send, stage=stage, produces={'id': after['id'], 'status': after['status']})


def _update(client, current, changes, stage):
    def send(resolved):
        try:
            answer = client.update_agent(current['id'], changes)
        except MissingCallError as error:
            error.advice = update_advice(current, changes)
            raise
        return confirmed(resolved, normalize_agent(answer))
    return Operation('update', 'agent', current['name'], current, dict(current, **changes), send, stage=stage)


def settle_create(client, name):
    """After an ambiguous create. The plan creates only when no agent has the name, so one agent with it now is ours.

    Its token is lost: the answer carrying it never arrived.
    """
    made = agents_named(client.list_agents(), name)
    if not made:
        return Settled.not_applied()
    if len(made) > 1:
        return Settled.undecided('the agent was created, but %d agents are now named %r (ids: %s), so which one is ours cannot '
                                 'be told: keep one with piopiy_agent id=<id>, and delete the others'
                                 % (len(made), name, ', '.join(sorted(agent['id'] for agent in made))))
    # The list item may lack the language; the create's own body stands for it.
    return Settled(True, normalize_agent(made[0]))
