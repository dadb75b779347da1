# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The API client against the real emulator: pages, retry policy, ambiguous writes, errors and redaction."""

from __future__ import annotations

import http.server
import json
import re
import socket
import ssl
import threading

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils import client_http
from ansible_collections.piopiy.voice.plugins.module_utils.client_http import HttpAnswer, TransportFailure
from ansible_collections.piopiy.voice.plugins.module_utils.resource_agent import settle_create
from ansible_collections.piopiy.voice.plugins.module_utils.client_api import (
    MAX_ATTEMPTS,
    AmbiguousWriteError,
    ConfigurationError,
    PiopiyAPIError,
    PiopiyClient,
    api_base_problem,
    api_key_problem,
    insecure_transport_warning,
    redact,
    route_path,
)
from ansible_collections.piopiy.voice.plugins.module_utils.resource_route import settle_map

ACME_KEY = 'pk_test_acme_0001'
NUMBER = '+19499800001'


@pytest.fixture
def client(emulator, sleeps):
    return PiopiyClient(ACME_KEY, emulator.api_base, timeout=60, sleep=sleeps)  # a loaded machine never times a request out


def api_calls(emulator):
    return [(entry['method'], entry['path'], entry['status']) for entry in emulator.requests_log()['requests']]


def agents_named(emulator, name):
    return [agent for workspace in emulator.state()['workspaces'] for agent in workspace['agents'] if agent['name'] == name]


def test_walk_follows_every_page_once(emulator, client):
    for index in range(7):
        create(client, 'agent-%d' % index)
    emulator.faults(page_size_cap=3)
    emulator.clear_log()

    names = sorted(agent['name'] for agent in client.list_agents())

    assert names == ['agent-%d' % index for index in range(7)]
    assert [call[:2] for call in api_calls(emulator)] == [('GET', '/v1/ai-agents')] * 3
    cursors = [entry['query'] for entry in emulator.requests_log()['requests']]
    assert 'cursor' not in cursors[0] and all('cursor=' in query for query in cursors[1:])
    assert all('limit=100' in query for query in cursors)


def test_walk_until_stops_at_the_page_where_the_test_holds(emulator, client):
    for index in range(7):
        create(client, 'agent-%d' % index)
    emulator.faults(page_size_cap=3)
    emulator.clear_log()
    pages = []

    agents = client.walk('/ai-agents', until=lambda page: pages.append(len(page)) or sum(pages) >= 4)

    # After each page the test sees that page's items; it holds after the second page, so the third is never asked for.
    assert pages == [3, 3] and len(agents) == 6
    assert [call[:2] for call in api_calls(emulator)] == [('GET', '/v1/ai-agents')] * 2


def answer_json(handler, payload):
    """A stand-in server's 200 answer with payload as its JSON body."""
    body = json.dumps(payload).encode()
    handler.send_response(200)
    handler.send_header('Content-Type', 'application/json')
    handler.send_header('Content-Length', str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_walk_stops_on_a_cursor_that_repeats(sleeps):
    class Looping(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            answer_json(self, {'data': [{'id': 'agent_1', 'name': 'a', 'status': 'active'}], 'next_cursor': 'same'})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Looping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = PiopiyClient(ACME_KEY, 'http://127.0.0.1:%d/v1' % server.server_address[1], sleep=sleeps)
        with pytest.raises(PiopiyAPIError, match='cursor'):
            client.list_agents()
    finally:
        server.shutdown()


def test_get_is_retried_on_429_and_honours_retry_after(emulator, client, sleeps):
    emulator.faults(fail_next_429=2, retry_after=3)

    assert client.list_agents() == []

    assert [call[2] for call in api_calls(emulator)] == [429, 429, 200]
    assert sleeps.calls.count(max(sleeps.calls)) >= 1 and 2.9 < max(sleeps.calls) <= 3.0


@pytest.mark.parametrize('status', [502, 503, 504])
def test_get_is_retried_on_transient_5xx(emulator, client, status):
    emulator.faults(fail_next_5xx=2, status_5xx=status)

    assert client.list_agents() == []
    assert [call[2] for call in api_calls(emulator)] == [status, status, 200]


def test_500_on_a_read_is_retried_as_the_contract_lists_it_transient(emulator, client):
    emulator.faults(fail_next_5xx=1, status_5xx=500)

    assert client.list_agents() == []
    assert [call[2] for call in api_calls(emulator)] == [500, 200]


def test_retries_give_up_after_max_attempts(emulator, client, sleeps):
    emulator.faults(fail_next_5xx=MAX_ATTEMPTS + 1, status_5xx=503)

    with pytest.raises(PiopiyAPIError) as error:
        client.list_agents()
    assert error.value.status == 503 and error.value.attempts == MAX_ATTEMPTS
    assert len(api_calls(emulator)) == MAX_ATTEMPTS
    assert all(0 <= delay <= 8.0 for delay in sleeps.calls)


def test_post_is_retried_on_429_without_a_duplicate(emulator, client):
    emulator.faults(fail_next_429=2, retry_after=0)

    agent = create(client, 'support')

    assert agent['agent_token'].startswith('agt_')
    assert [call[:2] + (call[2],) for call in api_calls(emulator)] == [('POST', '/v1/ai-agents', 429)] * 2 + [('POST', '/v1/ai-agents', 201)]
    assert len(agents_named(emulator, 'support')) == 1


def create(client, name, language='en-US'):
    """A create as piopiy_agent sends it: an ambiguous failure is settled by reading the agents by name."""
    return client.create_agent(name, language, settle=lambda: settle_create(client, name))


def test_post_5xx_looks_again_before_writing_again(emulator, client):
    emulator.faults(fail_next_5xx=1, status_5xx=503)

    agent = create(client, 'support')

    assert agent['agent_token'].startswith('agt_')
    assert [call[:2] for call in api_calls(emulator)] == [('POST', '/v1/ai-agents'), ('GET', '/v1/ai-agents'), ('POST', '/v1/ai-agents')]
    assert len(agents_named(emulator, 'support')) == 1


def test_dropped_create_adopts_the_agent_instead_of_duplicating(emulator, client):
    emulator.faults(drop_next_posts=1)

    agent = create(client, 'support', 'hi-IN')

    made = agents_named(emulator, 'support')
    assert len(made) == 1
    assert agent['id'] == made[0]['id']
    assert 'agent_token' not in agent, 'the token was in the lost answer'
    assert [call[:2] for call in api_calls(emulator)] == [('POST', '/v1/ai-agents'), ('GET', '/v1/ai-agents')]


def test_a_create_answered_with_an_empty_body_finds_the_agent_it_made(emulator, client):
    emulator.faults(odd_next=1, odd_body='empty', only='POST /v1/ai-agents')

    agent = create(client, 'support')

    assert agent['id'] == agents_named(emulator, 'support')[0]['id']
    assert [call[:2] for call in api_calls(emulator)] == [('POST', '/v1/ai-agents'), ('GET', '/v1/ai-agents')]


def test_a_create_answered_success_without_an_id_is_never_sent_twice(emulator, client, sleeps):
    emulator.faults(odd_next=1, odd_body='empty', only='POST /v1/ai-agents')

    def finds_nothing():
        return settle_create(client, 'no-such-name')

    with pytest.raises(PiopiyAPIError) as error:
        client.create_agent('support', 'en-US', settle=finds_nothing)

    assert not isinstance(error.value, AmbiguousWriteError)
    assert 'it is not sent again' in str(error.value)
    assert [call[0] for call in api_calls(emulator)].count('POST') == 1


def test_a_create_answered_with_an_html_page_is_settled_before_any_resend(emulator, client):
    emulator.faults(odd_next=1, odd_body='html', only='POST /v1/ai-agents')

    agent = create(client, 'support')

    assert len(agents_named(emulator, 'support')) == 1 and agent['id'] == agents_named(emulator, 'support')[0]['id']


@pytest.mark.parametrize('odd_body,described', [('html', 'not JSON (text/html)'), ('array', 'a JSON array'), ('empty', 'an empty body')])
def test_a_list_answered_with_something_else_is_never_read_as_empty(emulator, client, odd_body, described):
    create(client, 'support')
    emulator.clear_log()
    emulator.faults(odd_next=MAX_ATTEMPTS, odd_body=odd_body, only='GET /v1/ai-agents')

    with pytest.raises(PiopiyAPIError) as error:
        client.list_agents()

    assert described in str(error.value)
    assert len(api_calls(emulator)) == MAX_ATTEMPTS


def test_an_odd_answer_to_a_read_is_retried_then_read(emulator, client):
    create(client, 'support')
    emulator.clear_log()
    emulator.faults(odd_next=1, odd_body='html', only='GET /v1/ai-agents')

    assert [agent['name'] for agent in client.list_agents()] == ['support']
    assert len(api_calls(emulator)) == 2


def test_a_redirect_is_not_followed_and_the_key_goes_nowhere_else(emulator, client):
    seen = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            seen.append(self.headers.get('Authorization'))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Elsewhere)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        emulator.faults(redirect_next=1, redirect_to='http://127.0.0.1:%d/v1' % server.server_address[1])
        with pytest.raises(PiopiyAPIError) as error:
            client.list_agents()
    finally:
        server.shutdown()

    assert error.value.status == 307
    assert 'not followed' in str(error.value) and 'api_base' in str(error.value)
    assert seen == []


def test_dropped_route_is_read_back_not_posted_twice(emulator, client):
    agent = create(client, 'support')
    emulator.clear_log()
    emulator.faults(drop_next_posts=1)

    route = client.set_route(NUMBER, agent['id'], settle=lambda: settle_map(client, NUMBER, agent['id']))

    assert route['agent_id'] == agent['id']
    assert [call[:2] for call in api_calls(emulator)] == [('POST', '/v1/phone-number-routing'), ('GET', '/v1' + route_path(NUMBER))]


def test_numbers_are_percent_encoded_in_paths():
    assert route_path('+19499800001') == '/phone-number-routing/%2B19499800001'


def test_get_of_unknown_resources_is_none(client):
    assert client.get_agent('agent_doesnotexist') is None
    assert client.get_route(NUMBER) is None


def test_wrong_key_names_the_option_to_fix(emulator, sleeps):
    client = PiopiyClient('pk_wrong', emulator.api_base, sleep=sleeps)

    with pytest.raises(PiopiyAPIError) as error:
        client.list_agents()

    assert error.value.status == 401
    assert str(error.value).startswith('API key rejected (401)')
    assert 'check api_key / PIOPIY_API_KEY' in str(error.value)
    assert error.value.request_id and error.value.request_id.startswith('req_')
    assert 'pk_wrong' not in str(error.value)


def test_read_only_key_is_told_to_use_a_key_with_write_access(emulator, sleeps):
    client = PiopiyClient('pk_test_acme_readonly', emulator.api_base, sleep=sleeps)

    with pytest.raises(PiopiyAPIError) as error:
        client.create_agent('support', 'en-US')

    assert error.value.status == 403 and error.value.code == 'forbidden'
    assert 'write access' in str(error.value)


def test_conflict_carries_code_and_message(emulator, client):
    agent = create(client, 'support')
    client.set_route(NUMBER, agent['id'])

    with pytest.raises(PiopiyAPIError) as error:
        client.delete_agent(agent['id'])

    assert error.value.status == 409 and error.value.code == 'conflict'
    assert error.value.message and NUMBER in error.value.message
    assert 'DELETE /ai-agents/%s failed (409 conflict)' % agent['id'] in str(error.value)


def test_error_bodies_that_echo_credentials_are_redacted(emulator, client):
    emulator.faults(echo_auth_in_errors=True)

    with pytest.raises(PiopiyAPIError) as error:
        client.update_agent('agent_doesnotexist', {'name': 'x'})

    assert error.value.status == 404
    assert ACME_KEY not in str(error.value) and ACME_KEY not in repr(error.value.message)
    assert 'Bearer ********' in str(error.value)


HOSTILE_KEY = 'ws_acme:Zq9f"Leak\\Check/caf\u00e9Tail'
HOSTILE_FRAGMENTS = ('ws_acme', 'Zq9f', 'Leak', 'Check', 'Tail')


@pytest.mark.parametrize('as_text', [False, True], ids=['JSON error echoing the key', 'text/plain error read as latin-1'])
def test_a_key_echoed_in_any_form_never_reaches_the_error(emulator, sleeps, as_text):
    """A key with a colon, a quote, a backslash and an e-acute, echoed by a 401: as JSON (escaped) or as UTF-8 text that the
    client decodes as latin-1. Before, the first printed `Bearer ********:Zq9f...`, the second the whole key re-decoded."""
    emulator.faults(echo_auth_in_errors=True, errors_as_text=as_text)
    client = PiopiyClient(HOSTILE_KEY, emulator.api_base, timeout=60, sleep=sleeps)

    with pytest.raises(PiopiyAPIError) as error:
        client.list_agents()

    text = str(error.value) + repr(error.value.message)
    assert error.value.status == 401 and 'Bearer ********' in text
    assert not [fragment for fragment in HOSTILE_FRAGMENTS if fragment in text], text


def test_a_text_body_is_redacted_before_it_is_cut_short(emulator):
    """The first 200 characters of a text error body are kept: a key across that cut must not leave its first half."""
    key = 'pk_wrong_' + 'k' * 40 + 'Tail'
    response = HttpAnswer(401, 'Unauthorized', ('x' * 180 + ' ' + key + ' rest').encode('utf-8'), {'content-type': 'text/plain'})
    client = PiopiyClient(key, emulator.api_base)

    error = client._api_error('GET', '/ai-agents', response, 1)  # pylint: disable=protected-access

    assert 'kkkk' not in str(error) and '********' in str(error)


def test_a_key_with_a_typographic_apostrophe_is_refused_naming_api_key():
    problem = api_key_problem('pk_live_it\u2019s')
    assert problem.startswith('api_key contains U+2019 RIGHT SINGLE QUOTATION MARK') and 'pk_live' not in problem
    assert api_key_problem('pk_live_caf\u00e9') is None  # latin-1 travels in a header


def test_redact_removes_key_bearer_and_agent_tokens():
    text = 'key pk_secret, header Bearer pk_secret2, token agt_live_0123abcd'
    assert redact(text, ('pk_secret',)) == 'key ********, header Bearer ********, token agt_********'


def test_redact_removes_anything_shaped_like_an_api_key_and_spares_lookalikes():
    assert redact('echoed pk_live_A1b2-C3 and pk_test_acme_0001') == 'echoed pk_******** and pk_********'
    assert redact('agent desk_pk_1 and backup_agent') == 'agent desk_pk_1 and backup_agent'


def test_refused_connection_is_retried_even_for_post_and_names_the_url(sleeps):
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        closed_port = probe.getsockname()[1]
    api_base = 'http://127.0.0.1:%d/v1' % closed_port
    client = PiopiyClient(ACME_KEY, api_base, timeout=2, sleep=sleeps)

    with pytest.raises(PiopiyAPIError) as error:
        client.create_agent('support', 'en-US')

    assert not isinstance(error.value, AmbiguousWriteError)
    assert error.value.status is None and error.value.attempts == MAX_ATTEMPTS
    assert api_base in str(error.value) and 'connection refused' in str(error.value)
    assert 'check api_base / PIOPIY_API_BASE' in str(error.value)
    assert len(sleeps.calls) == MAX_ATTEMPTS - 1


class FailingTransport:
    """A transport whose every request fails with the given TransportFailure; it notes the requests it was asked to send."""

    def __init__(self, failure):
        self.failure = failure
        self.calls = []

    def send(self, method, path, headers, body=None):
        self.calls.append((method, path))
        raise self.failure

    def close(self):
        pass


def test_a_host_that_has_no_address_fails_at_once_naming_api_base(sleeps):
    client = PiopiyClient(ACME_KEY, 'https://api.piopiy.invalid/v1', sleep=sleeps)
    client.transport = FailingTransport(TransportFailure(client_http.NO_ADDRESS, 'gaierror: Name or service not known'))

    with pytest.raises(ConfigurationError) as error:
        client.list_agents()

    assert 'api.piopiy.invalid' in str(error.value) and 'DNS' in str(error.value) and 'api_base' in str(error.value)
    assert sleeps.calls == [] and len(client.transport.calls) == 1


def test_a_name_lookup_that_fails_is_told_as_no_address():
    transport = client_http.HttpTransport('http://no-such-host.invalid/v1', timeout=5)

    with pytest.raises(TransportFailure) as failure:
        transport.send('GET', '/ai-agents', {})

    assert failure.value.kind in (client_http.NO_ADDRESS, client_http.REFUSED) and not failure.value.sent


def test_an_api_base_without_a_scheme_fails_at_once(sleeps):
    client = PiopiyClient(ACME_KEY, 'api.piopiy.com/v1', sleep=sleeps)

    with pytest.raises(ConfigurationError) as error:
        client.list_agents()

    assert 'api_base' in str(error.value) and sleeps.calls == []


def test_validate_certs_false_wins_over_a_ca_bundle_variable():
    """REQUESTS_CA_BUNDLE names a file that does not exist: with validate_certs=false it is not even read."""
    context = client_http.tls_context(False, environ={'REQUESTS_CA_BUNDLE': '/nonexistent/bundle.pem'})

    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_a_ca_bundle_variable_is_read_once_and_a_missing_one_fails_the_first_call_naming_it(sleeps, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/nonexistent/bundle.pem')
    client = PiopiyClient(ACME_KEY, 'https://api.piopiy.com/v1', sleep=sleeps)

    with pytest.raises(ConfigurationError) as error:
        client.list_agents()

    assert 'REQUESTS_CA_BUNDLE names /nonexistent/bundle.pem' in str(error.value) and sleeps.calls == []


def test_certificates_are_checked_against_the_system_store_by_default():
    context = client_http.tls_context(True, environ={}, certifi_bundle=lambda: None)

    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


class Recording(http.server.BaseHTTPRequestHandler):
    """A stand-in for a proxy (or an API): it notes each request line and its headers, and answers an empty list."""

    protocol_version = 'HTTP/1.1'
    seen = []

    def do_GET(self):  # pylint: disable=invalid-name
        Recording.seen.append((self.requestline, dict(self.headers)))
        answer_json(self, {'data': [], 'next_cursor': None})

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_server():
    Recording.seen = []
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_proxy_of_the_environment_is_asked_for_the_whole_url_with_its_credentials(recording_server, sleeps, monkeypatch):
    for name in ('no_proxy', 'NO_PROXY', 'HTTP_PROXY'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('http_proxy', 'http://user:p%%40ss@127.0.0.1:%d' % recording_server.server_address[1])
    client = PiopiyClient(ACME_KEY, 'http://api.piopiy.example/v1', sleep=sleeps)

    assert client.list_agents() == []

    request_line, headers = Recording.seen[0]
    assert request_line == 'GET http://api.piopiy.example:80/v1/ai-agents?limit=100 HTTP/1.1'
    assert headers['Proxy-Authorization'] == 'Basic dXNlcjpwQHNz'  # user:p@ss
    assert headers['Authorization'] == 'Bearer ' + ACME_KEY


def test_no_proxy_and_a_direct_api_keep_the_request_direct(recording_server):
    origin = client_http.origin_of('http://127.0.0.1:%d/v1' % recording_server.server_address[1])

    assert client_http.proxy_for(origin, {'http': 'http://proxy.example:3128', 'no': '127.0.0.1'},
                                 bypass=lambda host: host.startswith('127.0.0.1')) is None
    assert client_http.proxy_for(origin, {}) is None
    assert client_http.proxy_for(origin, {'all': 'http://proxy.example:3128'}, bypass=lambda host: False).port == 3128


def test_a_proxy_that_is_not_http_is_refused_without_quoting_its_url(sleeps):
    client = PiopiyClient(ACME_KEY, 'https://api.piopiy.example/v1', sleep=sleeps)
    client.transport = client_http.HttpTransport('https://api.piopiy.example/v1', timeout=10,
                                                 proxies={'https': 'socks5://user:secret@proxy.example:1080'})

    with pytest.raises(ConfigurationError) as error:
        client.list_agents()

    assert 'https_proxy' in str(error.value) and 'secret' not in str(error.value) and sleeps.calls == []
    assert 'api_base' not in str(error.value)  # the proxy is at fault, not the API's address


def test_a_bad_all_proxy_is_named_as_all_proxy():
    origin = client_http.origin_of('https://api.piopiy.example/v1')

    with pytest.raises(TransportFailure) as failure:
        client_http.proxy_for(origin, {'all': 'socks5://proxy.example:1080'}, bypass=lambda host: False)

    assert failure.value.kind == client_http.UNUSABLE_PROXY and 'the all_proxy variable' in failure.value.detail


def test_connections_are_kept_alive_and_one_the_server_closed_is_replaced(recording_server):
    transport = client_http.HttpTransport('http://127.0.0.1:%d/v1' % recording_server.server_address[1], timeout=10)

    first = transport.send('GET', '/ai-agents', {})
    connection = transport._local.connection  # pylint: disable=protected-access  # the transport's own state, not Ansible's
    transport.send('GET', '/ai-agents', {})
    assert transport._local.connection is connection  # pylint: disable=protected-access
    connection.sock.shutdown(socket.SHUT_RD)  # as a server's close of an idle connection looks to the client: readable at its end
    third = transport.send('GET', '/ai-agents', {})

    assert first.status_code == third.status_code == 200 and len(Recording.seen) == 3
    assert transport._local.connection is not connection  # pylint: disable=protected-access
    transport.close()


@pytest.mark.parametrize('api_base,problem', [
    ('https://api.piopiy.com/v1', False),
    ('http://127.0.0.1:8080/v1', False),
    ('api.piopiy.com/v1', True),
    ('ftp://api.piopiy.com/v1', True),
    ('https:///v1', True),
])
def test_api_base_must_be_an_http_url(api_base, problem):
    assert bool(api_base_problem(api_base)) is problem


@pytest.mark.parametrize('api_base', ['http://admin:Sup3rS3cret@192.0.2.1:9/v1', 'https://Sup3rS3cret@api.piopiy.com/v1',
                                      'ftp://admin:Sup3rS3cret@api.piopiy.com/v1'])
def test_an_api_base_with_a_user_or_password_is_refused_without_quoting_them(api_base):
    # The API key is the only credential: the client would ignore them, and every message that names api_base show them.
    problem = api_base_problem(api_base)
    assert problem.startswith('api_base holds a user name or password') and 'Sup3rS3cret' not in problem and 'admin' not in problem
    assert problem.endswith('remove them from api_base (%s)' % re.sub('//[^/]*@', '//', api_base))


def test_a_key_with_a_newline_is_refused_without_quoting_it():
    problem = api_key_problem('pk_live_abc\n')
    assert problem.startswith('api_key starts or ends with a space or a newline') and 'pk_live_abc' not in problem
    assert api_key_problem('pk_live_abc') is None
    assert api_key_problem('pk live') is not None


def test_read_timeout_on_post_is_ambiguous(emulator, sleeps):
    emulator.faults(latency_ms=600)
    client = PiopiyClient(ACME_KEY, emulator.api_base, timeout=0.2, sleep=sleeps)

    with pytest.raises(PiopiyAPIError) as error:
        client.request('POST', '/ai-agents', body={'name': 'slow', 'language': 'en-US'})

    assert isinstance(error.value, AmbiguousWriteError)
    assert 'timed out' in str(error.value)


@pytest.mark.parametrize('api_base,warns', [
    ('http://api.example.com/v1', True),
    ('http://10.0.0.5:8080/v1', True),
    ('https://api.piopiy.com/v1', False),
    ('http://127.0.0.1:8080/v1', False),
    ('http://localhost/v1', False),
    ('http://[::1]:9000/v1', False),
])
def test_plain_http_to_a_remote_host_warns(api_base, warns):
    assert bool(insecure_transport_warning(api_base)) is warns
