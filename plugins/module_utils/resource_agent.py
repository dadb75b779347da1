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

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import Settled
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
    agent = client.get_agent(agent_id)
    return Lookup(normalize_agent(agent) if agent is not None else None)


def complete(client, item):
    """An agent list item with its language: list items may leave it out, and then only the agent itself tells it.

    None when the agent was deleted in between.
    """
    if 'language' in item:
        return normalize_agent(item)
    agent = client.get_agent(item['id'])
    return normalize_agent(agent) if agent is not None else None


def plan_agent_present(client, current, name, language, keep_token, stage=0):
    """(plan, the agent's id or a Pending for an agent the plan creates).

    A language of None keeps an existing agent's language and gives a new one the default.
    keep_token(token) receives the token of a created agent; None when its answer was lost.
    """
    if current is None:
        new_id = Pending(NEW_AGENT)
        after = {'id': new_id, 'name': name, 'language': language or DEFAULT_LANGUAGE, 'status': Pending(NEW_AGENT)}
        return Plan([_create(client, after, keep_token, stage)]), new_id
    changes = dict((field, value) for field, value in (('name', name), ('language', language))
                   if value is not None and current.get(field) != value)
    if not changes:
        return Plan(), current['id']
    return Plan([_update(client, current, changes, stage)]), current['id']


def rename_problem(agents, current, name):
    """A problem when renaming the agent would give it the name of another agent: names must stay unambiguous."""
    others = sorted(agent['id'] for agent in agents_named(agents, name) if agent['id'] != current['id'])
    if not others:
        return None
    return ('name %r is already used by agent %s: renaming %s (%s) to it would leave %d agents with one name; '
            'choose another name, or delete the other agent first'
            % (name, ', '.join(others), current['name'], current['id'], len(others) + 1))


def plan_agent_absent(client, current, routed_numbers, stage=0, requires=()):
    """Delete the agent; refused, as the API would refuse it, while numbers still route to it.

    routed_numbers: those that still route to it once the operations it requires are applied.
    """
    if current is None:
        return Plan()
    if routed_numbers:
        return Plan(problems=['agent %r (%s) still has %d number(s) routed to it: %s. Nothing was deleted: unmap them first, '
                              'with piopiy.voice.piopiy_number_route state=absent or piopiy_agent phone_numbers=[]'
                              % (current['name'], current['id'], len(routed_numbers), ', '.join(routed_numbers))],
                    facts={'numbers': list(routed_numbers)})

    def send(unused_after):
        client.delete_agent(current['id'])
        return None
    return Plan([Operation('delete', 'agent', current['name'], current, None, send, stage=stage, requires=requires)])


def _create(client, after, keep_token, stage):
    def send(resolved):
        answer = client.create_agent(resolved['name'], resolved['language'], settle=lambda: settle_create(client, resolved['name']))
        keep_token(answer.get('agent_token'))
        return confirmed(resolved, normalize_agent(answer))
    return Operation('create', 'agent', after['name'], None, after, send, stage=stage, produces={'id': after['id'], 'status': after['status']})


def _update(client, current, changes, stage):
    def send(resolved):
        return confirmed(resolved, normalize_agent(client.update_agent(current['id'], changes)))
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
