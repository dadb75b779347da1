# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The phone number resource: numbers for sale, the workspace's purchased numbers, and the plans that buy or release them.

Buying spends money and releasing may lose a number for good, so the plans
come with money guards, checked before the first write and in check mode too:
a budget for buys (max_purchases), a confirmation naming every number to
release, no release of a number that routes to an agent unless its route is
removed first, and no release of a protected number.

A buy is a create: it is never sent again blindly. When its answer is lost,
the purchased list tells whether it was applied (settle_buy), as agents
created by name are settled by the agent list.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import Settled
from ansible_collections.piopiy.voice.plugins.module_utils.engine_plan import Operation, Plan
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import RouteBook, plan_routes_absent

PURCHASED = 'purchased'
NOT_PURCHASED = 'not purchased'
RESOURCE = 'phone_number'
SHOWN = 10  # numbers a guard's message names before "and N more"


def normalize_purchased(raw):
    """A purchased number as the collection returns it: the API's `number` is `phone_number` here, as in routes."""
    return {'phone_number': raw.get('number'), 'id': raw.get('id'), 'status': PURCHASED}


def normalize_available(raw):
    """A number for sale, as piopiy_available_number_info returns it."""
    capabilities = raw.get('capabilities')
    return {'phone_number': raw.get('number'), 'id': raw.get('id'), 'region': raw.get('region'),
            'capabilities': list(capabilities) if isinstance(capabilities, list) else []}


def not_purchased(number):
    return {'phone_number': number, 'id': None, 'status': NOT_PURCHASED}


def named(numbers, shown=SHOWN):
    """'+1..., +2... and N more'."""
    numbers = list(numbers)
    text = ', '.join(numbers[:shown])
    return text + (' and %d more' % (len(numbers) - shown) if len(numbers) > shown else '')


@dataclass(frozen=True)
class SearchResult:
    """What a search of the numbers for sale found, and the cursor that continues it (None when the list ended)."""

    numbers: list
    next_cursor: object
    pages: int


def search_available(client, region, capability=None, limit=20, cursor=None):
    """At least `limit` numbers for sale in the region that have the capability (all of them when fewer), from `cursor` on.

    The published search filters by region only, so a capability is filtered here. Every match of the pages read is
    returned, so that next_cursor continues right after them and a later search never skips one.
    """
    found, seen, pages = [], set(), 0
    while True:
        wanted = limit - len(found)
        page = client.available_numbers_page(region, cursor, limit=100 if capability else wanted)
        pages += 1
        found.extend(normalize_available(item) for item in page.items
                     if capability is None or capability in (item.get('capabilities') or ()))
        cursor = page.next_cursor
        if cursor is None or len(found) >= limit:
            return SearchResult(found, cursor, pages)
        if cursor in seen:
            return SearchResult(found, None, pages)  # a cursor that repeats: stop rather than loop forever
        seen.add(cursor)


class NumberBook:
    """The workspace's purchased numbers by number, from one walk of the list, and the routes when a release needs them."""

    def __init__(self, purchased_items, routes=None):
        self.purchased = dict((item.get('number'), normalize_purchased(item)) for item in purchased_items if item.get('number'))
        self.routes = None if routes is None else RouteBook(routes, set(self.purchased))

    @classmethod
    def read(cls, client, numbers, with_routes):
        """with_routes: read the routes too (a release must know which listed numbers route to an agent)."""
        book = cls(client.list_purchased_numbers())
        if with_routes and any(number in book.purchased for number in numbers):
            book.routes = RouteBook(client.list_routes(), set(book.purchased))
        return book

    def state(self, number):
        """The number as a result shows it: purchased (with its id and the agent it routes to, when known) or not."""
        shown = dict(self.purchased.get(number) or not_purchased(number))
        if self.routes is not None:
            shown['agent_id'] = self.routes.agent_of(number)
        return shown

    def routed(self, numbers):
        """{number: agent id} of the listed numbers that route to an agent."""
        if self.routes is None:
            return {}
        return dict((number, self.routes.agent_of(number)) for number in numbers if self.routes.agent_of(number))


def plan_buy(client, book, numbers, stage=0):
    """Buy every listed number the workspace has not purchased."""
    return Plan([_buy(client, book, number, stage) for number in numbers if number not in book.purchased])


def plan_release(client, book, numbers, unroute_first, stage=0):
    """Release every listed number the workspace has purchased; with unroute_first, remove each one's route first.

    A release of a routed number requires its unmap: when the unmap fails, the number is kept.
    """
    plan = Plan()
    routed = book.routed(numbers)
    unmaps = {}
    if unroute_first and routed:
        unroute = plan_routes_absent(client, book.routes, sorted(routed), stage=stage)
        plan.extend(unroute)
        unmaps = dict((operation.key, operation) for operation in unroute.operations)
    for number in numbers:
        if number in book.purchased:
            unmap = unmaps.get(number)
            plan.operations.append(_release(client, book, number, stage + 1 if unmap else stage, [unmap] if unmap else []))
    return plan


@dataclass(frozen=True)
class MoneyGuards:
    """The settings that let a task spend money or give numbers up."""

    max_purchases: int = 0
    confirm_release: frozenset = frozenset()
    protected: frozenset = frozenset()
    allow_protected: bool = False
    unroute_first: bool = False
    budget_option: str = 'max_purchases'  # what the message tells the user to raise: the task's option, or the role's


def money_guard_problems(buys, releases, routed, guards):
    """Problems that stop a task before its first write: over budget, an unconfirmed or protected release, a routed release.

    buys and releases: the numbers the plan would buy and release, in order. routed: {number: agent id} of those that
    route to an agent now.
    """
    problems = []
    if 0 <= guards.max_purchases < len(buys):  # a negative budget is the task's own input problem
        problems.append('the task would buy %d number(s), more than %s=%d: %s. Nothing was bought: buying spends money, so '
                        'set %s to %d (or more) to allow these purchases, or remove the numbers from the task'
                        % (len(buys), guards.budget_option, guards.max_purchases, named(buys), guards.budget_option, len(buys)))
    unconfirmed = [number for number in releases if number not in guards.confirm_release]
    if unconfirmed:
        problems.append('the task would release %d number(s) not named in confirm_release: %s. Nothing was released: a released '
                        'number may be bought by another customer and lost for good; list each number to release in '
                        'confirm_release to confirm it' % (len(unconfirmed), named(unconfirmed)))
    protected = [number for number in releases if number in guards.protected]
    if protected and not guards.allow_protected:
        problems.append('the task would release protected number(s): %s. Nothing was released: a protected number is released '
                        'only by a task that sets allow_protected_changes=true' % named(protected))
    still_routed = ['%s (%s)' % (number, routed[number]) for number in releases if number in routed]
    if still_routed and not guards.unroute_first:
        problems.append('%d number(s) to release still route to an agent: %s. Nothing was released: re-route or unroute them '
                        'first (piopiy.voice.piopiy_number_route state=absent), or set unroute_first=true to remove their '
                        'routes before the release' % (len(still_routed), named(still_routed)))
    return problems


def money_moves(plan):
    """(numbers bought, numbers released) by the plan's operations, in order."""
    buys = [operation.key for operation in plan.operations if operation.resource == RESOURCE and operation.action == 'buy']
    releases = [operation.key for operation in plan.operations if operation.resource == RESOURCE and operation.action == 'release']
    return buys, releases


def _buy(client, book, number, stage):
    def send(unused_after):
        return normalize_purchased(client.buy_number(number, settle=lambda: settle_buy(client, number)))
    return Operation('buy', RESOURCE, number, None, {'phone_number': number, 'id': None, 'status': PURCHASED}, send, stage=stage)


def _release(client, book, number, stage, requires):
    def send(unused_after):
        client.release_number(number, settle=lambda: settle_release(client, number))
        return None
    return Operation('release', RESOURCE, number, book.state(number), None, send, stage=stage, requires=requires)


def settle_buy(client, number):
    """After a buy whose answer was lost: applied when the number is now purchased, else certainly not (a resend is safe).

    The plan buys only numbers the workspace had not purchased, so the number in the list now is this buy's.
    """
    found = _purchased(client, number)
    return Settled(True, found) if found else Settled.not_applied()


def settle_release(client, number):
    """After a release whose answer was lost: applied when the number is no longer purchased."""
    return Settled.not_applied() if _purchased(client, number) else Settled(True, {})


def _purchased(client, number):
    """The purchased list's item for the number, or None; the walk stops at the page that has it."""
    def has(page):
        return any(item.get('number') == number for item in page)
    matches = [item for item in client.list_purchased_numbers(until=has) if item.get('number') == number]
    return matches[0] if matches else None
