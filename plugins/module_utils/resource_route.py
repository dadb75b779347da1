# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The route resource: phone numbers, their routes to agents, and the plans that change them.

Shared by piopiy_number_route, piopiy_agent's phone_numbers, piopiy_fleet and
the info module: numbers are checked in one pass that names every bad one; the
routes are read once, whatever the number of numbers, and the purchased numbers
only as far as the listed numbers without a route need; a plan holds only the
writes the desired state needs (`map` upserts a route, `unmap` removes one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    DELETE_ROUTE,
    LIST_ROUTES,
    ROUTE_TYPE,
    MissingCallError,
    Settled,
)
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import (
    UNCERTAIN,
    Operation,
    Pending,
    Plan,
    confirmed,
    rendered,
    was_skipped,
)

E164 = re.compile(r'^\+[1-9]\d{7,14}$')
HUMAN_NUMBER_SEPARATORS = re.compile(r'[\s().-]')
ROUTE_FIELDS = ('phone_number', 'route_type', 'agent_id', 'status')
E164_HELP = 'Use E.164, a + and 8 to 15 digits not starting with 0, such as +19499800001'
BUY_HINT = ('buy them (piopiy.voice.piopiy_phone_number with max_purchases; in the support_agent role, '
            'support_agent_buy_missing_numbers: true with support_agent_max_purchases), or remove them from the task')


def normalize_route(raw):
    """A route as the collection returns and compares it: exactly these fields."""
    return dict((field, raw.get(field)) for field in ROUTE_FIELDS)


def connected(phone_number, agent_id):
    return {'phone_number': phone_number, 'route_type': ROUTE_TYPE, 'agent_id': agent_id, 'status': 'connected'}


def disconnected(phone_number):
    """How a number without a route is reported."""
    return {'phone_number': phone_number, 'route_type': None, 'agent_id': None, 'status': 'disconnected'}


ROUTE_UNKNOWN = 'current route unknown'


def unknown_route(phone_number):
    """How a number is reported whose route cannot be read (the API has no GET /phone-number-routing)."""
    return {'phone_number': phone_number, 'route_type': None, 'agent_id': None, 'status': ROUTE_UNKNOWN}


def routes_unknown_warning(book):
    """Why every listed number is mapped, said once per run (Capabilities.first_notice)."""
    missing = book.unknown_because
    return ('this API does not have %s (%s), so the current route of a number cannot be read: every number a task lists is '
            'mapped with the published POST /phone-number-routing, which replaces any route, and reported as changed; check mode '
            'and --diff show "%s" for each number (the result says routes_unknown). Unmapping and exclusive numbers '
            'need the unpublished route calls and fail before any write. (Said once per run.)'
            % (missing.call, missing.reason, ROUTE_UNKNOWN))


def route_calls_problem(client, what, advice):
    """The problem of a task that needs to read or remove routes, on an API without those calls; None when it has them."""
    missing = [client.capabilities.lacks(call) for call in (LIST_ROUTES, DELETE_ROUTE) if client.capabilities.lacks(call)]
    if not missing:
        return None
    return ('%s needs %s and %s; this API does not have %s. Nothing was changed: %s'
            % (what, LIST_ROUTES, DELETE_ROUTE, ' nor '.join('%s (%s)' % (item.call, item.reason) for item in missing), advice))


def _looks_like_unquoted_yaml_number(raw):
    # YAML reads +19499800001 unquoted as the integer 19499800001, which reaches the module as digits alone.
    return raw.isdigit() and E164.match('+' + raw) is not None


def parse_phone_numbers(option, raw_numbers):
    """(numbers in E.164 in the order given, problems): every malformed and every repeated number named in one problem each."""
    numbers, malformed, spelled = [], [], {}
    for raw in raw_numbers:
        text = '' if raw is None else str(raw)
        number = HUMAN_NUMBER_SEPARATORS.sub('', text)
        if not E164.match(number):
            malformed.append(repr(text) + (' (no leading +: quote it in YAML, as "+%s", or it is read as a number)' % text
                                           if _looks_like_unquoted_yaml_number(text) else ''))
            continue
        if number not in spelled:
            numbers.append(number)
        spelled.setdefault(number, []).append(text)
    problems = []
    if malformed:
        problems.append('%s has %d malformed phone number(s): %s. %s' % (option, len(malformed), ', '.join(malformed), E164_HELP))
    repeated = [number for number in numbers if len(spelled[number]) > 1]
    if repeated:
        problems.append('%s lists %d number(s) more than once: %s. List each number once'
                        % (option, len(repeated), ', '.join('%s (as %s)' % (number, ', '.join(repr(text) for text in spelled[number]))
                                                            for number in repeated)))
    return numbers, problems


def numbers_routed_to(routes, agent_id):
    """The numbers whose route points to the agent (an id, or the Pending of an agent a plan creates), sorted.

    A Pending matches only itself: two agents a plan creates are not one because both are still unknown.
    """
    return NumbersByAgent(routes).routed_to(agent_id)


class NumbersByAgent:
    """The numbers of routes by agent, indexed once: asking for every agent of a fleet costs one pass over the routes, not one each."""

    def __init__(self, routes):
        self._by_id = {}  # an agent id as the API gives it -> its numbers
        self._by_pending = {}  # id() of a Pending -> (the Pending, its numbers)
        for number, route in routes.items():
            agent = route['agent_id']
            if isinstance(agent, Pending):
                self._by_pending.setdefault(id(agent), (agent, []))[1].append(number)
            else:
                self._by_id.setdefault(_hashable(agent), []).append(number)

    def routed_to(self, agent_id):
        """As numbers_routed_to: the routes whose agent is agent_id itself, or the id it renders as, sorted."""
        numbers = list(self._by_id.get(_hashable(rendered(agent_id)), ()))
        if isinstance(agent_id, Pending):
            numbers.extend(self._by_pending.get(id(agent_id), (None, ()))[1])
        return sorted(numbers)


def _hashable(agent_id):
    """An agent id as a dict key: an odd answer's list or object id is keyed by its text, which no string id equals."""
    try:
        hash(agent_id)
    except TypeError:
        return ('unhashable', repr(agent_id))
    return agent_id


def purchased_among(client, numbers):
    """Those of the numbers the workspace has purchased: the purchased list is walked until every one is found, or to its end."""
    if not numbers:
        return set()

    missing = set(numbers)

    def every_one_found(page):
        missing.difference_update(item.get('number') for item in page)
        return not missing
    purchased = set(item.get('number') for item in client.list_purchased_numbers(until=every_one_found))
    return purchased & numbers


class RouteBook:
    """The workspace's routes by number, from one walk of the list, and which of the task's numbers it has purchased.

    On an API without the routes list, the book is not `known`: unknown_because is the MissingCallError, no route is
    read, a number's route is unknown_route(number) and no number is routed to an agent as far as the book can tell.
    """

    def __init__(self, routes, purchased=None, unknown_because=None):
        self.routes = dict((route['phone_number'], normalize_route(route)) for route in routes)
        self.purchased = purchased  # the purchased numbers the task asked about; None when it asked about none
        self.unknown_because = unknown_because
        self._numbers_by_agent = None

    @property
    def known(self):
        return self.unknown_because is None

    @classmethod
    def read(cls, client, numbers=None, agent_id=None, assumed=(), target=None):
        """The routes (only those to agent_id, when given) and, given numbers, which of them the workspace has purchased:
        learn_purchased, each number to route to target (the id of the agent the task routes them to; None when that
        agent does not exist yet, or the numbers are to be unmapped), with the assumed ones."""
        try:
            routes, unknown_because = client.list_routes(agent_id=agent_id), None
        except MissingCallError as error:
            routes, unknown_because = [], error
        book = cls(routes, unknown_because=unknown_because)
        if numbers is not None:
            book.learn_purchased(client, dict.fromkeys(numbers, target), assumed)
        return book

    def learn_purchased(self, client, targets, assumed=()):
        """Learn which numbers of targets ({number: the id of the agent it is to route to, or None}) the workspace has
        purchased, reading as little of the purchased list as it can.

        A number already routed to its target counts as purchased: the API routes only purchased numbers, and no write is
        made for it. Every other number is looked for in the purchased list, walked up to the page where the last of them
        is found. A route to another agent is no such proof: the contract does not say that a release removes a route,
        and a write for the number follows, which must not be refused half-way through the task. So an unchanged run,
        every number routed where it should be, reads no purchased number. assumed: numbers counted as purchased without
        a look (in check mode, those an earlier task of the play would buy), so that they never make the walk go on to
        the end of the list.
        """
        in_place = set(number for number, target in targets.items() if target is not None and self.agent_of(number) == target)
        known = in_place | set(assumed)
        self.purchased = known | purchased_among(client, set(targets) - known)

    def route(self, number):
        """The number's route, or None when it has none (unknown_route when the book cannot tell)."""
        if not self.known:
            return unknown_route(number)
        return self.routes.get(number)

    def agent_of(self, number):
        route = self.routes.get(number)
        return route['agent_id'] if route else None

    def routed_to(self, agent_id):
        """The numbers routed to the agent, sorted; the routes are indexed by agent on the first call."""
        if self._numbers_by_agent is None:
            self._numbers_by_agent = NumbersByAgent(self.routes)
        return self._numbers_by_agent.routed_to(agent_id)

    def not_purchased(self, numbers):
        """A plan with one problem naming every number the workspace has not purchased, or an empty plan."""
        missing = [number for number in numbers if number not in self.purchased]
        if not missing:
            return Plan()
        return Plan(problems=['%d number(s) are not purchased in this workspace: %s. Nothing was changed: %s'
                              % (len(missing), ', '.join(missing), BUY_HINT)], facts={'numbers': missing})

    def after(self, outcomes):
        """The routes by number once the applied (or, in check mode, uncertain) outcomes are in; a skipped write leaves the route
        it read fresh."""
        routes = dict(self.routes)
        for outcome in outcomes:
            if (outcome.applied or outcome.status == UNCERTAIN) and outcome.operation.resource == 'route':
                if not outcome.resource:  # None after an unmap; an empty SkippedWrite when the route was gone
                    routes.pop(outcome.operation.key, None)
                elif was_skipped(outcome):
                    routes[outcome.operation.key] = normalize_route(outcome.resource)
                else:
                    routes[outcome.operation.key] = outcome.resource
        return routes


def plan_routes_present(client, book, numbers, agent_id, exclusive, stage=0):
    """Route every number to the agent; with exclusive, unmap the agent's numbers that are not listed.

    agent_id may be a Pending: the id of an agent an earlier operation creates, to which no number routes yet.
    When the routes cannot be read (book not known), every number is mapped: a map to an existing agent is then
    `uncertain` (it may change nothing), and exclusive, which needs the agent's other numbers, is refused.
    """
    plan = book.not_purchased(numbers)
    if not book.known:
        if exclusive and isinstance(agent_id, str):
            plan.problems.append(route_calls_problem(
                client, 'exclusive=true (unmap the numbers of the agent that the task does not list)',
                'set exclusive=false to map the listed numbers only (in the support_agent role: support_agent_exclusive: false), '
                'and remove other routes in the Piopiy dashboard') or
                'exclusive=true needs the routes of the agent, which cannot be read: %s' % book.unknown_because)
        for number in numbers:
            operation = plan_map(client, book, number, agent_id, stage)
            operation.uncertain = not isinstance(agent_id, Pending)  # a new agent's numbers all change
            plan.operations.append(operation)
        return plan
    for number in numbers:
        if book.agent_of(number) != agent_id:
            plan.operations.append(plan_map(client, book, number, agent_id, stage))
    if exclusive and isinstance(agent_id, str):
        listed = set(numbers)
        plan.operations.extend(_unmap(client, book, number, stage) for number in book.routed_to(agent_id) if number not in listed)
    return plan


UNMAP_ADVICE = ('the published API cannot remove a route: map the numbers to another agent instead (a map replaces a route), '
                'or remove the routes in the Piopiy dashboard')


def plan_routes_absent(client, book, numbers, agent_id=None, stage=0):
    """Remove the route of every listed number that has one; given an agent's id, only the routes to it."""
    plan = book.not_purchased(numbers)
    if not book.known:
        plan.problems.append(route_calls_problem(client, 'unmapping numbers (state=absent)', UNMAP_ADVICE) or
                             'unmapping needs the current routes, which cannot be read: %s' % book.unknown_because)
        return plan
    plan.operations.extend(_unmap(client, book, number, stage) for number in numbers
                           if book.route(number) and agent_id in (None, book.agent_of(number)))
    return plan


def plan_unmap_all(client, book, agent_id, stage=0):
    """Remove every route to the agent, such as before deleting it."""
    return Plan([_unmap(client, book, number, stage) for number in book.routed_to(agent_id)])


def describe_route_changes(changes, shown=10):
    """'map +1..., unmap +2... and N more': the first `shown` of the (action, phone number) pairs of a guard's message."""
    text = ', '.join('%s %s' % (action, number) for action, number in changes[:shown])
    return text + (' and %d more' % (len(changes) - shown) if len(changes) > shown else '')


def run_route_changes_problem(operations_by_environment, max_changes, option='max_route_changes_per_run'):
    """The problem of a run whose environments together plan more route changes than max_changes, or None.

    operations_by_environment: {environment: the `operations` a module returned for it (in check mode, its plan)}.
    Route changes are counted as the per-task guard counts them: every map (add or move) and unmap of a route.
    option: the name of the setting that holds max_changes, as the message names it.
    """
    counts = []
    for environment in sorted(operations_by_environment):
        changes = [(item.get('op'), item.get('phone_number')) for item in operations_by_environment[environment] or []
                   if isinstance(item, dict) and item.get('resource') == 'route']
        if changes:
            counts.append((environment, changes))
    total = sum(len(changes) for unused, changes in counts)
    if total <= max_changes:
        return None
    return ('the run would make %d route change(s) in %d environment(s), more than %s=%d: %s. Nothing was changed in any '
            'environment: check the numbers, or raise %s for a change this big'
            % (total, len(counts), option, max_changes,
               '; '.join('%s %d (%s)' % (environment, len(changes), describe_route_changes(changes)) for environment, changes in counts),
               option))


@dataclass(frozen=True)
class GuardOptions:
    """How a guard's message tells the fix: the option to raise for the cap, and who may move a protected number."""

    raise_cap: str
    may_move_protected: str


TASK_GUARDS = GuardOptions('raise max_route_changes', 'a task that lists it and sets allow_protected_changes=true')
# An environment of piopiy_fleet: in playbooks/support_agent.yml its options are the role's variables, which the user set.
ENVIRONMENT_GUARDS = GuardOptions(
    "raise the environment's max_route_changes (playbooks/support_agent.yml: support_agent_max_route_changes)",
    'an environment that lists it and sets allow_protected_changes=true (playbooks/support_agent.yml: '
    'support_agent_allow_protected_changes: true)')


def guard_problems(plan, listed, max_changes=None, protected=(), allow_protected=False, options=TASK_GUARDS):
    """Problems that stop a plan whose route changes look like a mistake, before its first write.

    max_changes: the most route changes (maps that move or add a route, unmaps) one task may make.
    protected: numbers that a task may re-route or unroute only when it lists them and allows it.
    options: how the messages name the fix (a GuardOptions).
    """
    changes = [operation for operation in plan.operations if operation.resource == 'route']
    problems = []
    # A negative cap is the task's own input problem, said once by the option's check.
    if max_changes is not None and max_changes >= 0 and len(changes) > max_changes:
        problems.append('the task would make %d route change(s), more than max_route_changes=%d: %s. Nothing was changed: '
                        'check the numbers, or %s for a change this big'
                        % (len(changes), max_changes, describe_route_changes([(operation.action, operation.key) for operation in changes]),
                           options.raise_cap))
    guarded = set(protected)
    touched = [operation for operation in changes if operation.key in guarded and operation.before is not None]
    refused = [operation for operation in touched if not (allow_protected and operation.key in listed)]
    if refused:
        problems.append('the task would %s protected number(s): %s. Nothing was changed: a protected number is re-routed or '
                        'unrouted only by %s'
                        % ('re-route or unroute', ', '.join('%s (%s)' % (operation.key, operation.action) for operation in refused),
                           options.may_move_protected))
    return problems


def plan_map(client, book, number, agent_id, stage):
    """The operation that routes the number to the agent (a POST that replaces any earlier route)."""
    def send(after):
        answer = client.set_route(number, after['agent_id'], settle=lambda: settle_map(client, number, after['agent_id']))
        return confirmed(after, normalize_route(answer))
    return Operation('map', 'route', number, book.route(number), connected(number, agent_id), send, stage=stage)


def _unmap(client, book, number, stage):
    def send(unused_after):
        try:
            client.delete_route(number)
        except MissingCallError as error:
            error.advice = UNMAP_ADVICE
            raise
        return None
    return Operation('unmap', 'route', number, book.route(number), None, send, stage=stage)


def settle_map(client, number, agent_id):
    """After an ambiguous route write: applied if the number now routes to the agent, else certainly not (a resend is safe)."""
    try:
        route = client.get_route(number)
    except MissingCallError:
        return Settled.not_applied()  # the POST replaces any route, so sending it again is safe
    if route is not None and route.get('agent_id') == agent_id:
        return Settled(True, normalize_route(route))
    return Settled.not_applied()
