# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which calls the API has: the capability record and its cache (pure), then the client's rules against the emulator's profiles."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    DEFAULT_API_BASE,
    GET_AGENT,
    LIST_ROUTES,
    UNPUBLISHED_CALLS,
    UPDATE_AGENT,
    DELETE_ROUTE,
    MissingCallError,
    PiopiyAPIError,
    PiopiyClient,
)
from ansible_collections.piopiy.voice.plugins.module_utils.client_capabilities import Capabilities, CapabilityCache, MissingCall
from ansible_collections.piopiy.voice.plugins.module_utils.engine_lock import capabilities_path

ACME_KEY = 'pk_test_acme_0001'
NUMBER = '+19499800001'


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


# ---- the record and its cache, without HTTP ----

def test_published_profile_knows_every_unpublished_call_missing():
    record = Capabilities('published', UNPUBLISHED_CALLS)
    assert record.missing_calls() == sorted(UNPUBLISHED_CALLS)
    assert 'api_profile is published' in record.lacks(UPDATE_AGENT).reason
    assert not record.learns


def test_extended_profile_never_learns_and_auto_does():
    assert not Capabilities('extended', UNPUBLISHED_CALLS).learns
    record = Capabilities('auto', UNPUBLISHED_CALLS)
    assert record.learns and record.lacks(LIST_ROUTES) is None
    assert record.learn(LIST_ROUTES, 'answered 404') == MissingCall(LIST_ROUTES, 'answered 404')
    assert record.lacks(LIST_ROUTES).reason == 'answered 404'


def test_an_unknown_profile_is_refused():
    with pytest.raises(ValueError, match='api_profile must be one of auto, published, extended'):
        Capabilities('full', UNPUBLISHED_CALLS)


def test_what_one_task_learns_the_next_task_of_the_run_knows(tmp_path):
    clock = Clock()
    path = str(tmp_path / 'capabilities.json')
    Capabilities('auto', UNPUBLISHED_CALLS, CapabilityCache(path, clock=clock)).learn(LIST_ROUTES, 'the API answered 404')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    later = Capabilities('auto', UNPUBLISHED_CALLS, CapabilityCache(path, clock=clock))
    assert later.lacks(LIST_ROUTES) == MissingCall(LIST_ROUTES, 'the API answered 404')
    assert later.lacks(UPDATE_AGENT) is None
    # extended ignores the cache: it sends every call, as today
    assert Capabilities('extended', UNPUBLISHED_CALLS, CapabilityCache(path, clock=clock)).lacks(LIST_ROUTES) is None


def test_cache_entries_expire_and_unknown_calls_or_bad_files_are_ignored(tmp_path):
    clock = Clock()
    path = str(tmp_path / 'capabilities.json')
    Capabilities('auto', UNPUBLISHED_CALLS, CapabilityCache(path, seconds=60, clock=clock)).learn(LIST_ROUTES, 'answered 404')
    clock.now += 61
    assert Capabilities('auto', UNPUBLISHED_CALLS, CapabilityCache(path, seconds=60, clock=clock)).lacks(LIST_ROUTES) is None
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump({'missing': {'GET /ai-agents': [clock.now, 'forged'], LIST_ROUTES: 'not a list'}}, handle)
    record = Capabilities('auto', UNPUBLISHED_CALLS, CapabilityCache(path, clock=clock))
    assert record.missing_calls() == []  # a published call is never missing, and a bad entry is no entry
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('not json')
    assert Capabilities('auto', UNPUBLISHED_CALLS, CapabilityCache(path, clock=clock)).missing_calls() == []


def test_a_notice_is_given_once_per_run_across_tasks(tmp_path):
    path = str(tmp_path / 'capabilities.json')
    first = Capabilities('published', UNPUBLISHED_CALLS, CapabilityCache(path))
    assert first.first_notice('routes unknown') and not first.first_notice('routes unknown')
    assert not Capabilities('published', UNPUBLISHED_CALLS, CapabilityCache(path)).first_notice('routes unknown')


def test_an_unwritable_cache_is_reported_and_the_run_goes_on(tmp_path):
    record = Capabilities('auto', UNPUBLISHED_CALLS, CapabilityCache(str(tmp_path / 'missing-dir' / 'capabilities.json')))
    record.learn(LIST_ROUTES, 'answered 404')
    assert record.lacks(LIST_ROUTES) and 'cannot be written' in record.cache_problem


def test_the_cache_file_names_neither_the_key_nor_the_base(tmp_path):
    path = capabilities_path(DEFAULT_API_BASE, ACME_KEY, base=str(tmp_path))
    assert ACME_KEY not in path and 'piopiy.com' not in path
    assert path != capabilities_path(DEFAULT_API_BASE, 'pk_test_other_0001', base=str(tmp_path))
    assert path == capabilities_path(DEFAULT_API_BASE + '/', ACME_KEY, base=str(tmp_path))


def test_a_missing_call_error_names_the_call_and_what_still_works_never_api_base():
    error = MissingCallError(MissingCall(UPDATE_AGENT, 'the API answered 405 method_not_allowed to it'), status=405)
    text = str(error)
    assert text.startswith('PATCH /ai-agents/{id} is not available on this API (the API answered 405')
    assert 'map a number' in text and 'api_base' not in text
    assert error.facts()['missing_call'] == UPDATE_AGENT


# ---- the client's rules, against the emulator ----

def published_client(emulator, sleeps, profile='auto'):
    emulator.admin('PUT', 'profile', {'profile': 'published'})
    return PiopiyClient(ACME_KEY, emulator.api_base, timeout=60, sleep=sleeps, capabilities=Capabilities(profile, UNPUBLISHED_CALLS))


def api_calls(emulator):
    """(method, first path part, query, status) of each logged request of the calls these tests are about: the unpublished
    ones and the probe of a published list (GET /ai-agents?limit=1). A request of an earlier test still in flight (a create
    whose client gave up) may land in the log after the reset: the other calls are left out."""
    return [(entry['method'], entry['path'].split('/')[2], entry['query'], entry['status']) for entry in emulator.requests_log()['requests']
            if entry['path'].startswith('/v1/phone-number-routing') or entry['path'].startswith('/v1/ai-agents/')
            or (entry['path'] == '/v1/ai-agents' and entry['query'] == 'limit=1')]


def test_a_404_on_the_routes_list_is_a_missing_call_not_a_wrong_base_and_is_asked_once(emulator, sleeps):
    client = published_client(emulator, sleeps)
    client.list_agents()
    with pytest.raises(MissingCallError) as raised:
        client.list_routes()
    assert raised.value.call == LIST_ROUTES and 'api_base' not in str(raised.value)
    with pytest.raises(MissingCallError):
        client.list_routes()
    assert api_calls(emulator) == [('GET', 'phone-number-routing', 'limit=100', 404)]  # asked once; no probe: the base answered


def test_a_404_on_the_first_call_asks_a_published_list_once_to_tell_a_missing_call(emulator, sleeps):
    client = published_client(emulator, sleeps)
    with pytest.raises(MissingCallError, match='GET /phone-number-routing is not available'):
        client.list_routes()
    assert api_calls(emulator) == [('GET', 'phone-number-routing', 'limit=100', 404), ('GET', 'ai-agents', 'limit=1', 200)]


def test_a_404_everywhere_is_still_a_wrong_base(emulator, sleeps):
    client = PiopiyClient(ACME_KEY, emulator.url + '/v9', timeout=60, sleep=sleeps, capabilities=Capabilities('auto', UNPUBLISHED_CALLS))
    with pytest.raises(PiopiyAPIError, match='check api_base') as raised:
        client.list_routes()
    assert not isinstance(raised.value, MissingCallError)


def test_a_405_on_update_of_a_listed_agent_is_a_missing_call(emulator, sleeps):
    client = published_client(emulator, sleeps)
    agent = client.create_agent('Support', 'en-US')
    with pytest.raises(MissingCallError) as raised:
        client.update_agent(agent['id'], {'language': 'hi-IN'})
    assert raised.value.call == UPDATE_AGENT and raised.value.status == 405
    assert raised.value.facts()['missing_call'] == UPDATE_AGENT


def test_a_404_on_reading_a_listed_agent_is_a_missing_call_and_an_unlisted_one_is_no_agent(emulator, sleeps):
    client = published_client(emulator, sleeps)
    agent = client.create_agent('Support', 'en-US')
    assert client.get_agent('agent_000000000000') is None  # not in the list either: no such agent
    with pytest.raises(MissingCallError) as raised:
        client.get_agent(agent['id'])
    assert raised.value.call == GET_AGENT
    emulator.clear_log()
    with pytest.raises(MissingCallError):
        client.get_agent(agent['id'])
    assert api_calls(emulator) == []  # learned: never asked again


def test_a_404_of_an_agent_deleted_meanwhile_is_no_agent_on_a_full_api(emulator, sleeps):
    client = PiopiyClient(ACME_KEY, emulator.api_base, timeout=60, sleep=sleeps, capabilities=Capabilities('auto', UNPUBLISHED_CALLS))
    agent = client.create_agent('Support', 'en-US')
    client.delete_agent(agent['id'])
    assert client.get_agent(agent['id']) is None
    assert client.capabilities.missing_calls() == []


def test_a_405_on_deleting_a_route_is_a_missing_call(emulator, sleeps):
    client = published_client(emulator, sleeps)
    client.list_agents()
    with pytest.raises(MissingCallError) as raised:
        client.delete_route(NUMBER)
    assert raised.value.call == DELETE_ROUTE


def test_published_profile_never_sends_an_unpublished_call(emulator, sleeps):
    client = published_client(emulator, sleeps, profile='published')
    agent = client.create_agent('Support', 'en-US')
    emulator.clear_log()
    for call in (client.list_routes, lambda: client.get_agent(agent['id']), lambda: client.update_agent(agent['id'], {'name': 'x'}),
                 lambda: client.get_route(NUMBER), lambda: client.delete_route(NUMBER)):
        with pytest.raises(MissingCallError):
            call()
    assert api_calls(emulator) == []


def test_extended_profile_makes_exactly_the_requests_and_errors_of_before(emulator, sleeps):
    client = published_client(emulator, sleeps, profile='extended')
    agent = client.create_agent('Support', 'en-US')
    emulator.clear_log()
    assert client.get_agent(agent['id']) is None  # a 404 is read as no agent, as it always was
    with pytest.raises(PiopiyAPIError) as raised:
        client.update_agent(agent['id'], {'language': 'hi-IN'})
    assert not isinstance(raised.value, MissingCallError) and raised.value.status == 405
    with pytest.raises(PiopiyAPIError) as raised:
        client.list_routes()
    assert not isinstance(raised.value, MissingCallError) and 'api_base' not in str(raised.value)  # the base answered before
    assert api_calls(emulator) == [('GET', 'ai-agents', '', 404), ('PATCH', 'ai-agents', '', 405),
                                   ('GET', 'phone-number-routing', 'limit=100', 404)]
