# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Black-box tests of the Piopiy API emulator.

The emulator runs as a real subprocess and is only ever spoken to over HTTP
(requests, http.client, raw sockets and curl); its module is never imported.
"""

import contextlib
import http.client
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, 'piopiy_emulator.py')
DEFAULT_SEED = os.path.join(HERE, 'seeds', 'default.yml')

ACME_KEY = 'pk_test_acme_0001'
READONLY_KEY = 'pk_test_acme_readonly'
OTHER_KEY = 'pk_test_other_0001'
ACME_NUMBER = '+19499800001'
ACME_NUMBER_2 = '+19499800002'
OTHER_NUMBER = '+442071230001'  # purchased by ws_other only
ACME_NUMBER_COUNT = 10 + 1500

URL_LINE_RE = re.compile(r'PIOPIY_EMULATOR_URL=(http://[0-9.]+:[0-9]+)\n')
REQUEST_ID_RE = re.compile(r'req_[0-9a-f]+')
AGENT_ID_RE = re.compile(r'agent_[0-9a-f]{8,}')
TOKEN_RE = re.compile(r'agt_live_[0-9a-f]{32}')
NUMBER_ID_RE = re.compile(r'num_[0-9a-f]+')

FAULT_DEFAULTS = {
    'rate_429': 0.0, 'retry_after': 1, 'rate_5xx': 0.0, 'status_5xx': 503, 'latency_ms': 0,
    'drop_post_rate': 0.0, 'page_size_cap': None, 'list_includes_language': False,
    'echo_auth_in_errors': False, 'errors_as_text': False, 'rng_seed': None,
    'fail_next_429': 0, 'fail_next_5xx': 0, 'drop_next_posts': 0, 'only': None,
    'odd_next': 0, 'odd_body': 'empty', 'redirect_next': 0, 'redirect_to': 'http://127.0.0.2:9/v1',
    'twin_next_creates': 0, 'twin_id': 'lower', 'release_call_status': None,
}

# Piopiy's published "AI Agents" examples, verbatim; only the base URL, the
# key and the agent id are substituted before running them.
PUBLISHED_CREATE = (
    'curl -X POST https://api.piopiy.com/v1/ai-agents -H "Authorization: Bearer YOUR_API_KEY" '
    '-H "Content-Type: application/json" -d \'{"name": "Support Agent", "language": "en-US"}\''
)
PUBLISHED_LIST = 'curl -X GET https://api.piopiy.com/v1/ai-agents -H "Authorization: Bearer YOUR_API_KEY"'
PUBLISHED_DELETE = 'curl -X DELETE https://api.piopiy.com/v1/ai-agents/agent_9x2d -H "Authorization: Bearer YOUR_API_KEY"'
PUBLISHED_ROUTE = (
    'curl -X POST https://api.piopiy.com/v1/phone-number-routing -H "Authorization: Bearer YOUR_API_KEY" '
    '-H "Content-Type: application/json" '
    '-d \'{"phone_number": "+19499800001", "route_type": "ai_agent", "agent_id": "agent_9x2d"}\''
)


# ------------------------------------------------------------------ helpers

class RunningEmulator:
    def __init__(self, process, url):
        self.process = process
        self.url = url

    def stop(self, signum=signal.SIGTERM):
        """Signal the emulator, wait for it, and return (exit code, stderr)."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=10)
        return code, self.process.stderr.read()


@contextlib.contextmanager
def run_emulator(db_path, *extra_args, host='127.0.0.1', seed=DEFAULT_SEED):
    command = [sys.executable, EMULATOR, '--host', host, '--port', '0', '--db', str(db_path), '--seed', str(seed)]
    with subprocess.Popen(command + list(extra_args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            ready = select.select([process.stdout], [], [], 15)[0]
            line = process.stdout.readline() if ready else ''
            match = URL_LINE_RE.fullmatch(line)
            assert match, 'no URL line from the emulator: %r' % line
            yield RunningEmulator(process, match.group(1))
        finally:
            if process.poll() is None:
                process.kill()


class Client:
    """A requests session that checks every answer for the request id and the error shape."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def call(self, method, path, key=ACME_KEY, **kwargs):
        headers = dict(kwargs.pop('headers', None) or {})
        if key is not None:
            headers['Authorization'] = 'Bearer ' + key
        response = self.session.request(method, self.url + path, headers=headers, timeout=10, **kwargs)
        assert REQUEST_ID_RE.fullmatch(response.headers.get('X-Request-Id', '')), response.headers
        if response.status_code >= 400 and method != 'HEAD':
            assert_error_body(response)
        return response

    def admin(self, method, name, **kwargs):
        response = self.session.request(method, self.url + '/__emulator__/' + name, timeout=10, **kwargs)
        assert REQUEST_ID_RE.fullmatch(response.headers.get('X-Request-Id', ''))
        return response

    def set_faults(self, **faults):
        response = self.admin('PUT', 'faults', json=faults)
        assert response.status_code == 200, response.text
        return response.json()

    def create_agent(self, name='Support Agent', language='en-US', key=ACME_KEY):
        response = self.call('POST', '/v1/ai-agents', key=key, json={'name': name, 'language': language})
        assert response.status_code == 201, response.text
        return response.json()

    def route(self, number, agent_id, key=ACME_KEY):
        return self.call('POST', '/v1/phone-number-routing', key=key,
                         json={'phone_number': number, 'route_type': 'ai_agent', 'agent_id': agent_id})

    def list_all(self, path, key=ACME_KEY, **params):
        """Follow next_cursor to the end; returns (items, number of pages)."""
        items, pages, seen = [], 0, set()
        while True:
            response = self.call('GET', path, key=key, params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == {'data', 'next_cursor'}
            items.extend(body['data'])
            pages += 1
            if body['next_cursor'] is None:
                return items, pages
            assert body['next_cursor'] not in seen, 'cursor repeated'
            seen.add(body['next_cursor'])
            params = dict(params, cursor=body['next_cursor'])

    def state(self, workspace='ws_acme'):
        workspaces = {item['id']: item for item in self.admin('GET', 'state').json()['workspaces']}
        return workspaces[workspace]


def assert_error_body(response, status=None, code=None):
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {'error'}
    assert set(body['error']) == {'code', 'message'}
    assert isinstance(body['error']['message'], str) and body['error']['message']
    if code is not None:
        assert body['error']['code'] == code
    return body['error']['message']


def raw_exchange(url, data):
    """Send raw bytes and read until the server closes; returns (status, body)."""
    host, port = url[len('http://'):].rsplit(':', 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _separator, body = received.partition(b'\r\n\r\n')
    assert re.search(rb'\r\nX-Request-Id: req_[0-9a-f]+', head), head
    return int(head.split()[1]), json.loads(body)


def non_loopback_address():
    """An IPv4 address of this host that is not loopback, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(('192.0.2.1', 9))  # UDP connect sends nothing; it only picks a route
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith('127.') or address == '0.0.0.0' else address


# ------------------------------------------------------------------ fixtures

@pytest.fixture(name='emulator', scope='module')
def emulator_fixture(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp('emulator') / 'state.sqlite') as running:
        yield running
        code, stderr = running.stop()
    assert code == 0
    assert stderr == '', 'the emulator must be quiet without --log-file'


@pytest.fixture(name='api')
def api_fixture(emulator):
    client = Client(emulator.url)
    assert client.admin('POST', 'reset').status_code == 200
    yield client
    client.session.close()


# -------------------------------------------------------------------- agents

def test_create_agent_answers_201_with_id_and_one_time_token(api):
    agent = api.create_agent('Support Agent', 'en-US')
    assert set(agent) == {'id', 'name', 'language', 'status', 'agent_token'}
    assert AGENT_ID_RE.fullmatch(agent['id'])
    assert TOKEN_RE.fullmatch(agent['agent_token'])
    assert (agent['name'], agent['language'], agent['status']) == ('Support Agent', 'en-US', 'active')


def test_get_agent_has_language_and_never_the_token(api):
    agent = api.create_agent('Billing', 'hi-IN')
    response = api.call('GET', '/v1/ai-agents/' + agent['id'])
    assert response.status_code == 200
    assert response.json() == {'id': agent['id'], 'name': 'Billing', 'language': 'hi-IN', 'status': 'active'}


def test_list_items_omit_language_by_default(api):
    first = api.create_agent('One', 'en-US')
    second = api.create_agent('Two', 'ta-IN')
    body = api.call('GET', '/v1/ai-agents').json()
    assert body == {'data': [{'id': first['id'], 'name': 'One', 'status': 'active'},
                             {'id': second['id'], 'name': 'Two', 'status': 'active'}],
                    'next_cursor': None}


def test_names_are_not_unique(api):
    first = api.create_agent('Same Name')
    second = api.create_agent('Same Name')
    assert first['id'] != second['id']
    names = [item['name'] for item in api.list_all('/v1/ai-agents')[0]]
    assert names == ['Same Name', 'Same Name']


@pytest.mark.parametrize('changes', [{'name': 'Renamed'}, {'language': 'en-IN'}, {'name': 'Both', 'language': 'ta-IN'}])
def test_patch_changes_only_given_fields_and_answers_the_whole_agent(api, changes):
    agent = api.create_agent('Original', 'en-US')
    response = api.call('PATCH', '/v1/ai-agents/' + agent['id'], json=changes)
    assert response.status_code == 200
    expected = dict({'id': agent['id'], 'name': 'Original', 'language': 'en-US', 'status': 'active'}, **changes)
    assert response.json() == expected
    assert api.call('GET', '/v1/ai-agents/' + agent['id']).json() == expected


def test_delete_agent_makes_it_vanish(api):
    agent = api.create_agent()
    keep = api.create_agent('Keep')
    response = api.call('DELETE', '/v1/ai-agents/' + agent['id'])
    assert response.status_code == 200
    assert response.json() == {'id': agent['id'], 'status': 'deleted'}
    assert_error_body(api.call('GET', '/v1/ai-agents/' + agent['id']), 404, 'not_found')
    assert_error_body(api.call('DELETE', '/v1/ai-agents/' + agent['id']), 404, 'not_found')
    assert_error_body(api.call('PATCH', '/v1/ai-agents/' + agent['id'], json={'name': 'x'}), 404, 'not_found')
    assert [item['id'] for item in api.list_all('/v1/ai-agents')[0]] == [keep['id']]


def test_deleting_a_routed_agent_is_a_conflict_and_deletes_nothing(api):
    agent = api.create_agent()
    assert api.route(ACME_NUMBER, agent['id']).status_code == 201
    assert api.route(ACME_NUMBER_2, agent['id']).status_code == 201
    message = assert_error_body(api.call('DELETE', '/v1/ai-agents/' + agent['id']), 409, 'conflict')
    assert ACME_NUMBER in message and ACME_NUMBER_2 in message
    assert api.call('GET', '/v1/ai-agents/' + agent['id']).status_code == 200
    assert len(api.list_all('/v1/phone-number-routing')[0]) == 2
    api.call('DELETE', '/v1/phone-number-routing/%2B19499800001')
    api.call('DELETE', '/v1/phone-number-routing/%2B19499800002')
    assert api.call('DELETE', '/v1/ai-agents/' + agent['id']).status_code == 200


def test_unknown_agent_id_is_404(api):
    for method, kwargs in (('GET', {}), ('PATCH', {'json': {'name': 'x'}}), ('DELETE', {})):
        assert_error_body(api.call(method, '/v1/ai-agents/agent_00000000', **kwargs), 404, 'not_found')


# ------------------------------------------------------------ agent validation

@pytest.mark.parametrize('body, field', [
    ({'language': 'en-US'}, 'name'),
    ({'name': 'A'}, 'language'),
    ({'name': 5, 'language': 'en-US'}, 'name'),
    ({'name': None, 'language': 'en-US'}, 'name'),
    ({'name': True, 'language': 'en-US'}, 'name'),
    ({'name': '', 'language': 'en-US'}, 'name'),
    ({'name': '   ', 'language': 'en-US'}, 'name'),
    ({'name': 'x' * 129, 'language': 'en-US'}, 'name'),
    ({'name': '\ud800', 'language': 'en-US'}, 'name'),
    ({'name': 'A', 'language': 'english'}, 'language'),
    ({'name': 'A', 'language': 'en-US\n'}, 'language'),
    ({'name': 'A', 'language': 5}, 'language'),
    ({'name': 'A', 'language': ['en-US']}, 'language'),
    ({'name': 'A', 'language': 'en-US', 'voice': 'alloy'}, 'voice'),
])
def test_invalid_agent_bodies_are_422_naming_the_field(api, body, field):
    response = api.call('POST', '/v1/ai-agents', data=json.dumps(body), headers={'Content-Type': 'application/json'})
    assert field in assert_error_body(response, 422, 'invalid_request')
    assert api.state()['agents'] == []


def test_name_limits_are_after_strip(api):
    assert api.create_agent('x' * 128)['name'] == 'x' * 128
    assert api.create_agent('  padded  ')['name'] == '  padded  '
    assert api.create_agent(' ' + 'y' * 128 + ' ')['name'] == ' ' + 'y' * 128 + ' '


@pytest.mark.parametrize('body, field', [({}, 'name'), ({'voice': 'x'}, 'voice'), ({'name': 7}, 'name'), ({'language': 'e'}, 'language')])
def test_invalid_patch_bodies_are_422(api, body, field):
    agent = api.create_agent('Original', 'en-US')
    assert field in assert_error_body(api.call('PATCH', '/v1/ai-agents/' + agent['id'], json=body), 422, 'invalid_request')
    assert api.call('GET', '/v1/ai-agents/' + agent['id']).json()['name'] == 'Original'


@pytest.mark.parametrize('data', [b'{"name": ', b'[]', b'"text"', b'1', b'null', b'', b'{"name": NaN, "language": "en-US"}',
                                  b'\xff\xfe', b'[' * 20000, b'{"name": ' + b'9' * 5000 + b'}'])
def test_bad_json_bodies_are_400(api, data):
    response = api.call('POST', '/v1/ai-agents', data=data, headers={'Content-Type': 'application/json'})
    assert_error_body(response, 400, 'invalid_request')


def test_oversized_body_is_413_and_the_connection_stays_usable(api):
    data = json.dumps({'name': 'x' * (65 * 1024), 'language': 'en-US'})
    assert_error_body(api.call('POST', '/v1/ai-agents', data=data), 413, 'payload_too_large')
    assert api.call('GET', '/v1/ai-agents').status_code == 200
    assert api.state()['agents'] == []


# ------------------------------------------------------------------- routing

def test_route_create_then_upsert(api):
    first = api.create_agent('First')
    second = api.create_agent('Second')
    response = api.route(ACME_NUMBER, first['id'])
    assert response.status_code == 201
    assert response.json() == {'phone_number': ACME_NUMBER, 'route_type': 'ai_agent', 'agent_id': first['id'], 'status': 'connected'}
    response = api.route(ACME_NUMBER, second['id'])
    assert response.status_code == 200
    assert response.json()['agent_id'] == second['id']
    routes = api.list_all('/v1/phone-number-routing')[0]
    assert routes == [{'phone_number': ACME_NUMBER, 'route_type': 'ai_agent', 'agent_id': second['id'], 'status': 'connected'}]


@pytest.mark.parametrize('path', ['/v1/phone-number-routing/%2B19499800001', '/v1/phone-number-routing/%2b19499800001',
                                  '/v1/phone-number-routing/+19499800001'])
def test_route_paths_accept_encoded_and_literal_plus(api, path):
    agent = api.create_agent()
    api.route(ACME_NUMBER, agent['id'])
    response = api.call('GET', path)
    assert response.status_code == 200
    assert response.json() == {'phone_number': ACME_NUMBER, 'route_type': 'ai_agent', 'agent_id': agent['id'], 'status': 'connected'}
    response = api.call('DELETE', path)
    assert response.status_code == 200
    assert response.json() == {'phone_number': ACME_NUMBER, 'status': 'disconnected'}
    assert_error_body(api.call('GET', path), 404, 'not_found')
    assert_error_body(api.call('DELETE', path), 404, 'not_found')


def test_plus_in_path_is_not_a_space(api):
    agent = api.create_agent()
    api.route(ACME_NUMBER, agent['id'])
    assert_error_body(api.call('GET', '/v1/phone-number-routing/%2019499800001'), 404, 'not_found')


def test_route_list_filters_by_agent(api):
    first = api.create_agent('First')
    second = api.create_agent('Second')
    api.route(ACME_NUMBER, first['id'])
    api.route(ACME_NUMBER_2, second['id'])
    api.route('+14155550000', first['id'])
    filtered = api.list_all('/v1/phone-number-routing', agent_id=first['id'])[0]
    assert [route['phone_number'] for route in filtered] == [ACME_NUMBER, '+14155550000']
    assert api.list_all('/v1/phone-number-routing', agent_id='agent_unknown')[0] == []
    assert len(api.list_all('/v1/phone-number-routing')[0]) == 3


@pytest.mark.parametrize('override, status, field', [
    ({'phone_number': '19499800001'}, 422, 'phone_number'),
    ({'phone_number': '+0949980000'}, 422, 'phone_number'),
    ({'phone_number': '+1949'}, 422, 'phone_number'),
    ({'phone_number': '+19499800001\n'}, 422, 'phone_number'),
    ({'phone_number': 19499800001}, 422, 'phone_number'),
    ({'route_type': 'sip'}, 422, 'route_type'),
    ({'route_type': None}, 422, 'route_type'),
    ({'agent_id': 5}, 422, 'agent_id'),
    ({'agent_id': ''}, 422, 'agent_id'),
    ({'priority': 1}, 422, 'priority'),
    ({'agent_id': 'agent_00000000'}, 404, 'agent_00000000'),
    ({'phone_number': OTHER_NUMBER}, 404, OTHER_NUMBER),
    ({'phone_number': '+15005550199'}, 404, '+15005550199'),
])
def test_invalid_routes_change_nothing(api, override, status, field):
    agent = api.create_agent()
    other = api.create_agent('Other')
    api.route(ACME_NUMBER, agent['id'])
    body = dict({'phone_number': ACME_NUMBER, 'route_type': 'ai_agent', 'agent_id': other['id']}, **override)
    response = api.call('POST', '/v1/phone-number-routing', json=body)
    assert field in assert_error_body(response, status, 'not_found' if status == 404 else 'invalid_request')
    assert api.list_all('/v1/phone-number-routing')[0] == [
        {'phone_number': ACME_NUMBER, 'route_type': 'ai_agent', 'agent_id': agent['id'], 'status': 'connected'}]


@pytest.mark.parametrize('missing', ['phone_number', 'route_type', 'agent_id'])
def test_route_missing_field_is_422(api, missing):
    agent = api.create_agent()
    body = {'phone_number': ACME_NUMBER, 'route_type': 'ai_agent', 'agent_id': agent['id']}
    del body[missing]
    assert missing in assert_error_body(api.call('POST', '/v1/phone-number-routing', json=body), 422, 'invalid_request')


def test_purchased_numbers_shape_and_stable_ids(api):
    numbers, _pages = api.list_all('/v1/purchased-phone-numbers', limit=100)
    assert len(numbers) == ACME_NUMBER_COUNT
    assert numbers[0]['number'] == ACME_NUMBER
    assert numbers[-1]['number'] == '+14155551499'
    for item in numbers:
        assert set(item) == {'id', 'number', 'status'} and item['status'] == 'active'
        assert NUMBER_ID_RE.fullmatch(item['id'])
    assert len({item['id'] for item in numbers}) == ACME_NUMBER_COUNT
    assert OTHER_NUMBER not in {item['number'] for item in numbers}
    other = api.list_all('/v1/purchased-phone-numbers', key=OTHER_KEY)[0]
    assert OTHER_NUMBER in {item['number'] for item in other}


# ---------------------------------------------------------- auth and tenancy

@pytest.mark.parametrize('headers', [{}, {'Authorization': 'Bearer pk_wrong'}, {'Authorization': 'Basic ' + ACME_KEY},
                                     {'Authorization': 'Bearer '}, {'Authorization': ACME_KEY}])
def test_missing_or_wrong_key_is_401(api, headers):
    for path in ('/v1/ai-agents', '/v1/phone-number-routing', '/v1/purchased-phone-numbers'):
        assert_error_body(api.call('GET', path, key=None, headers=headers), 401, 'unauthorized')
    response = api.call('POST', '/v1/ai-agents', key=None, headers=headers, json={'name': 'A', 'language': 'en-US'})
    assert_error_body(response, 401, 'unauthorized')
    assert api.state()['agents'] == []


def test_readonly_key_reads_but_cannot_write(api):
    agent = api.create_agent()
    api.route(ACME_NUMBER, agent['id'])
    assert api.call('GET', '/v1/ai-agents', key=READONLY_KEY).json()['data'][0]['id'] == agent['id']
    assert api.call('GET', '/v1/ai-agents/' + agent['id'], key=READONLY_KEY).status_code == 200
    assert api.call('GET', '/v1/phone-number-routing/%2B19499800001', key=READONLY_KEY).status_code == 200
    writes = [
        ('POST', '/v1/ai-agents', {'name': 'B', 'language': 'en-US'}),
        ('PATCH', '/v1/ai-agents/' + agent['id'], {'name': 'B'}),
        ('DELETE', '/v1/ai-agents/' + agent['id'], None),
        ('POST', '/v1/phone-number-routing', {'phone_number': ACME_NUMBER_2, 'route_type': 'ai_agent', 'agent_id': agent['id']}),
        ('DELETE', '/v1/phone-number-routing/%2B19499800001', None),
    ]
    before = api.state()
    for method, path, body in writes:
        assert_error_body(api.call(method, path, key=READONLY_KEY, json=body), 403, 'forbidden')
    assert api.state() == before


def test_workspaces_are_isolated(api):
    agent = api.create_agent()
    api.route(ACME_NUMBER, agent['id'])
    path = '/v1/ai-agents/' + agent['id']
    assert_error_body(api.call('GET', path, key=OTHER_KEY), 404, 'not_found')
    assert_error_body(api.call('PATCH', path, key=OTHER_KEY, json={'name': 'stolen'}), 404, 'not_found')
    assert_error_body(api.call('DELETE', path, key=OTHER_KEY), 404, 'not_found')
    assert_error_body(api.route(OTHER_NUMBER, agent['id'], key=OTHER_KEY), 404, 'not_found')
    assert_error_body(api.call('GET', '/v1/phone-number-routing/%2B19499800001', key=OTHER_KEY), 404, 'not_found')
    assert_error_body(api.call('DELETE', '/v1/phone-number-routing/%2B19499800001', key=OTHER_KEY), 404, 'not_found')
    assert api.list_all('/v1/ai-agents', key=OTHER_KEY)[0] == []
    assert api.list_all('/v1/phone-number-routing', key=OTHER_KEY)[0] == []
    other_agent = api.create_agent('Theirs', key=OTHER_KEY)
    assert_error_body(api.route(ACME_NUMBER, other_agent['id']), 404, 'not_found')
    assert api.call('GET', path).json()['name'] == 'Support Agent'
    assert api.call('GET', '/v1/phone-number-routing/%2B19499800001').json()['agent_id'] == agent['id']


# ------------------------------------------------------------- pagination

def test_pages_follow_cursor_in_creation_order(api):
    created = [api.create_agent('Agent %d' % index)['id'] for index in range(7)]
    pages = []
    params = {'limit': 3}
    while True:
        body = api.call('GET', '/v1/ai-agents', params=params).json()
        pages.append([item['id'] for item in body['data']])
        if body['next_cursor'] is None:
            break
        params['cursor'] = body['next_cursor']
    assert pages == [created[0:3], created[3:6], created[6:7]]
    exact = api.call('GET', '/v1/ai-agents', params={'limit': 7}).json()
    assert len(exact['data']) == 7 and exact['next_cursor'] is None


def test_default_page_size_is_50(api):
    body = api.call('GET', '/v1/purchased-phone-numbers').json()
    assert len(body['data']) == 50 and isinstance(body['next_cursor'], str)
    assert len(api.call('GET', '/v1/purchased-phone-numbers?limit=100').json()['data']) == 100


def test_deletes_between_pages_skip_nothing(api):
    created = [api.create_agent('Agent %d' % index)['id'] for index in range(6)]
    first = api.call('GET', '/v1/ai-agents', params={'limit': 2}).json()
    api.call('DELETE', '/v1/ai-agents/' + created[0])
    api.call('DELETE', '/v1/ai-agents/' + created[2])
    second = api.call('GET', '/v1/ai-agents', params={'limit': 2, 'cursor': first['next_cursor']}).json()
    assert [item['id'] for item in second['data']] == [created[3], created[4]]


def test_page_size_cap_forces_many_pages(api):
    for index in range(5):
        api.create_agent('Agent %d' % index)
    api.set_faults(page_size_cap=2)
    items, pages = api.list_all('/v1/ai-agents', limit=100)
    assert len(items) == 5 and pages == 3
    api.set_faults(page_size_cap=10)
    numbers, pages = api.list_all('/v1/purchased-phone-numbers', limit=100)
    assert len(numbers) == ACME_NUMBER_COUNT and pages == ACME_NUMBER_COUNT // 10
    assert len({item['id'] for item in numbers}) == ACME_NUMBER_COUNT


@pytest.mark.parametrize('query', ['limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'limit=', 'limit=99999999999999999999',
                                   'cursor=garbage', 'cursor=%FF%FE', 'cursor=bnVtYmVyczoy'])
def test_bad_page_parameters_are_400(api, query):
    assert_error_body(api.call('GET', '/v1/ai-agents?' + query), 400, 'invalid_request')


def test_cursor_of_another_list_is_400(api):
    cursor = api.call('GET', '/v1/purchased-phone-numbers?limit=1').json()['next_cursor']
    assert api.call('GET', '/v1/purchased-phone-numbers', params={'cursor': cursor}).status_code == 200
    assert_error_body(api.call('GET', '/v1/phone-number-routing', params={'cursor': cursor}), 400, 'invalid_request')


def test_unknown_query_parameters_are_ignored(api):
    api.create_agent()
    response = api.call('GET', '/v1/ai-agents?sort=name&expand=all&limit=5')
    assert response.status_code == 200 and len(response.json()['data']) == 1


# ------------------------------------------------------ HTTP-level behaviour

@pytest.mark.parametrize('path', ['/', '/v1', '/v1/', '/v2/ai-agents', '/v1/agents', '/v1/ai-agents/', '/v1/ai-agents/a/b',
                                  '/v1/ai-agents/%ZZ', '/v1/phone-number-routing/%FF', '/__emulator', '/__emulator__'])
def test_unknown_paths_are_404_with_error_body(api, path):
    assert_error_body(api.call('GET', path), 404, 'not_found')


@pytest.mark.parametrize('method, path, allow', [
    ('PUT', '/v1/ai-agents', 'GET, POST'),
    ('DELETE', '/v1/ai-agents', 'GET, POST'),
    ('POST', '/v1/ai-agents/agent_1234abcd', 'DELETE, GET, PATCH'),
    ('PATCH', '/v1/phone-number-routing/%2B19499800001', 'DELETE, GET'),
    ('POST', '/v1/purchased-phone-numbers', 'GET'),
    ('OPTIONS', '/v1/ai-agents', 'GET, POST'),
])
def test_wrong_method_is_405_with_allow(api, method, path, allow):
    response = api.call(method, path)
    assert_error_body(response, 405, 'method_not_allowed')
    assert response.headers['Allow'] == allow


def test_unknown_method_and_head_are_405(api):
    assert_error_body(api.call('BREW', '/v1/ai-agents'), 405, 'method_not_allowed')
    head = api.call('HEAD', '/v1/ai-agents')
    assert head.status_code == 405 and head.content == b''
    assert api.call('GET', '/v1/ai-agents').status_code == 200


@pytest.mark.parametrize('data, status', [
    (b'POST /v1/ai-agents HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400),
    (b'POST /v1/ai-agents HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', 400),
    (b'GARBAGE\r\n\r\n', 400),
    (b'GET /v1/ai-agents HTTP/9.9\r\n\r\n', 505),
])
def test_malformed_http_still_gets_a_json_error(api, data, status):
    got, body = raw_exchange(api.url, data)
    assert got == status and set(body['error']) == {'code', 'message'}


@pytest.mark.usefixtures('api')
def test_keep_alive_survives_error_answers(emulator):
    host, port = emulator.url[len('http://'):].rsplit(':', 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {'Authorization': 'Bearer ' + ACME_KEY, 'Content-Type': 'application/json'}
    calls = [('GET', '/v1/ai-agents', None, 200), ('GET', '/v1/nope', None, 404), ('POST', '/v1/ai-agents', '{"name": 1}', 422),
             ('POST', '/v1/ai-agents', '{' + ' ' * 70000 + '}', 413), ('PUT', '/v1/ai-agents', '{}', 405),
             ('POST', '/v1/ai-agents', '{"name": "A", "language": "en-US"}', 201), ('GET', '/v1/ai-agents', None, 200)]
    sockets = set()
    try:
        for method, path, body, status in calls:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == status
            assert response.getheader('Content-Length') is not None
            sockets.add(id(connection.sock))
    finally:
        connection.close()
    assert len(sockets) == 1, 'the server closed a keep-alive connection'


def test_every_answer_has_a_distinct_request_id(api):
    ids = {api.call('GET', '/v1/ai-agents').headers['X-Request-Id'] for _attempt in range(5)}
    ids.add(api.call('GET', '/v1/missing').headers['X-Request-Id'])
    ids.add(api.admin('GET', 'faults').headers['X-Request-Id'])
    assert len(ids) == 7


def test_concurrent_clients_create_exactly_one_agent_per_post(api):
    results, errors = [], []

    def worker(index):
        client = Client(api.url)
        try:
            for number in range(20):
                results.append(client.create_agent('Worker %d-%d' % (index, number))['id'])
        except Exception as error:  # pylint: disable=broad-exception-caught  # reported below, not lost in the thread
            errors.append(error)
        finally:
            client.session.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 160 and len(set(results)) == 160
    listed = api.list_all('/v1/ai-agents', limit=100)[0]
    assert sorted(item['id'] for item in listed) == sorted(results)


# ---------------------------------------------------------------- admin API

def test_request_log_records_api_calls_only(api):
    agent = api.create_agent()
    api.call('GET', '/v1/ai-agents?limit=5&cursor=')
    api.call('GET', '/v1/phone-number-routing/%2B19499800001')
    api.call('GET', '/v1/ai-agents', key='pk_wrong')
    api.call('PATCH', '/v1/ai-agents/' + agent['id'], key=READONLY_KEY, json={'name': 'x'})
    api.admin('GET', 'state')
    log = api.admin('GET', 'requests').json()
    assert log['requests'] == [
        {'method': 'POST', 'path': '/v1/ai-agents', 'query': '', 'status': 201, 'workspace': 'ws_acme'},
        {'method': 'GET', 'path': '/v1/ai-agents', 'query': 'limit=5&cursor=', 'status': 200, 'workspace': 'ws_acme'},
        {'method': 'GET', 'path': '/v1/phone-number-routing/%2B19499800001', 'query': '', 'status': 404, 'workspace': 'ws_acme'},
        {'method': 'GET', 'path': '/v1/ai-agents', 'query': '', 'status': 401, 'workspace': None},
        {'method': 'PATCH', 'path': '/v1/ai-agents/' + agent['id'], 'query': '', 'status': 403, 'workspace': 'ws_acme'},
    ]
    assert log['counts'] == {'GET': 3, 'POST': 1, 'PATCH': 1, 'DELETE': 0}
    assert log['total'] == 5
    assert api.admin('DELETE', 'requests').status_code == 200
    assert api.admin('GET', 'requests').json() == {'requests': [], 'counts': {'GET': 0, 'POST': 0, 'PATCH': 0, 'DELETE': 0}, 'total': 0}


def test_reset_restores_the_seed(api):
    agent = api.create_agent()
    api.route(ACME_NUMBER, agent['id'])
    api.create_agent('Theirs', key=OTHER_KEY)
    api.set_faults(latency_ms=5, page_size_cap=3)
    response = api.admin('POST', 'reset')
    assert response.status_code == 200
    for workspace in ('ws_acme', 'ws_other'):
        assert api.state(workspace)['agents'] == [] and api.state(workspace)['routes'] == []
    assert api.admin('GET', 'faults').json() == FAULT_DEFAULTS
    assert api.admin('GET', 'requests').json()['total'] == 0
    assert api.admin('GET', 'tokens').json() == {'tokens': []}
    assert len(api.list_all('/v1/purchased-phone-numbers', limit=100)[0]) == ACME_NUMBER_COUNT


def test_state_dump_and_tokens(api):
    first = api.create_agent('One', 'en-US')
    second = api.create_agent('Two', 'hi-IN')
    api.route(ACME_NUMBER, first['id'])
    api.call('DELETE', '/v1/ai-agents/' + second['id'])
    response = api.admin('GET', 'state')
    assert first['agent_token'] not in response.text and 'agent_token' not in response.text
    acme = api.state()
    assert acme['agents'] == [{'id': first['id'], 'name': 'One', 'language': 'en-US', 'status': 'active'}]
    assert acme['routes'] == [{'phone_number': ACME_NUMBER, 'route_type': 'ai_agent', 'agent_id': first['id'], 'status': 'connected'}]
    assert acme['purchased_numbers'] == ACME_NUMBER_COUNT
    assert api.admin('GET', 'tokens').json() == {'tokens': [first['agent_token'], second['agent_token']]}


def test_admin_unknown_endpoint_and_method(api):
    assert_error_body(api.admin('GET', 'nothing'), 404, 'not_found')
    assert_error_body(api.admin('POST', 'state'), 405, 'method_not_allowed')
    assert_error_body(api.admin('PUT', 'faults', data=b'[1]'), 400, 'invalid_request')


# ----------------------------------------------------------- buying numbers

US_FOR_SALE = ['+1949981%04d' % offset for offset in range(120)] + ['+1650555%04d' % offset for offset in range(100, 105)]
FOR_SALE = '+19499810000'


def test_available_numbers_by_region_in_cursor_pages(api):
    items, pages = api.list_all('/v1/list-available-numbers', region='US', limit=100)
    assert [item['number'] for item in items] == US_FOR_SALE and pages == 2
    assert items[0] == {'id': items[0]['id'], 'number': FOR_SALE, 'region': 'US', 'capabilities': ['voice']}
    assert NUMBER_ID_RE.fullmatch(items[0]['id'])
    assert items[-1]['capabilities'] == ['voice', 'sms']
    assert [item['number'] for item in api.list_all('/v1/list-available-numbers', region='gb')[0]] == ['+442071239001', '+442071239002']
    assert api.list_all('/v1/list-available-numbers', region='FR')[0] == []


@pytest.mark.parametrize('query', ['', '?region=', '?region=USA'])
def test_available_numbers_need_a_region(api, query):
    assert_error_body(api.call('GET', '/v1/list-available-numbers' + query), 400, 'invalid_request')


def test_a_cursor_of_one_region_is_not_valid_for_another(api):
    cursor = api.call('GET', '/v1/list-available-numbers?region=US&limit=2').json()['next_cursor']
    assert_error_body(api.call('GET', '/v1/list-available-numbers', params={'region': 'GB', 'cursor': cursor}), 400)


def test_buy_moves_a_number_from_for_sale_to_purchased(api):
    response = api.call('POST', '/v1/buy-phone-number', json={'number': FOR_SALE})
    assert response.status_code == 201
    assert response.json() == {'id': response.json()['id'], 'number': FOR_SALE, 'status': 'active'}
    purchased = [item['number'] for item in api.list_all('/v1/purchased-phone-numbers', limit=100)[0]]
    assert FOR_SALE in purchased and len(purchased) == ACME_NUMBER_COUNT + 1
    assert FOR_SALE not in [item['number'] for item in api.list_all('/v1/list-available-numbers', region='US')[0]]
    assert api.state()['bought_numbers'] == [FOR_SALE]
    agent = api.create_agent()
    assert api.route(FOR_SALE, agent['id']).status_code == 201


def test_a_number_no_longer_for_sale_is_409_and_an_unknown_one_404(api):
    assert api.call('POST', '/v1/buy-phone-number', key=OTHER_KEY, json={'number': FOR_SALE}).status_code == 201
    assert_error_body(api.call('POST', '/v1/buy-phone-number', json={'number': FOR_SALE}), 409, 'conflict')
    assert_error_body(api.call('POST', '/v1/buy-phone-number', json={'number': ACME_NUMBER}), 409, 'conflict')
    assert_error_body(api.call('POST', '/v1/buy-phone-number', json={'number': '+15550009999'}), 404, 'not_found')
    assert api.state()['bought_numbers'] == [] and api.state()['purchased_numbers'] == ACME_NUMBER_COUNT


@pytest.mark.parametrize('body', [{}, {'number': '19499810000'}, {'number': FOR_SALE, 'region': 'US'}, {'phone_number': FOR_SALE}])
def test_bad_buy_bodies_are_422(api, body):
    assert_error_body(api.call('POST', '/v1/buy-phone-number', json=body), 422, 'invalid_request')


def test_release_drops_the_route_and_puts_the_number_back_for_sale(api):
    api.call('POST', '/v1/buy-phone-number', json={'number': FOR_SALE})
    agent = api.create_agent()
    api.route(FOR_SALE, agent['id'])
    response = api.call('POST', '/v1/release-phone-number', json={'number': FOR_SALE})
    assert response.status_code == 200 and response.json()['status'] == 'released'
    assert api.state()['routes'] == [] and api.state()['bought_numbers'] == []
    assert FOR_SALE in [item['number'] for item in api.list_all('/v1/list-available-numbers', region='US', limit=100)[0]]
    assert_error_body(api.call('POST', '/v1/release-phone-number', json={'number': FOR_SALE}), 404, 'not_found')
    seeded = api.call('POST', '/v1/release-phone-number', json={'number': ACME_NUMBER_2})
    assert seeded.status_code == 200
    assert ACME_NUMBER_2 in [item['number'] for item in api.list_all('/v1/list-available-numbers', region='US', limit=100)[0]]


@pytest.mark.parametrize('status, code', [(404, 'not_found'), (405, 'method_not_allowed'), (501, 'internal_error')])
def test_a_missing_release_call_answers_its_status_and_releases_nothing(api, status, code):
    api.set_faults(release_call_status=status)
    assert_error_body(api.call('POST', '/v1/release-phone-number', json={'number': ACME_NUMBER}), status, code)
    assert api.state()['purchased_numbers'] == ACME_NUMBER_COUNT
    assert api.call('POST', '/v1/buy-phone-number', json={'number': FOR_SALE}).status_code == 201


def test_a_dropped_buy_was_applied(api):
    api.set_faults(drop_next_posts=1, only='POST /v1/buy-phone-number')
    with pytest.raises(requests.ConnectionError):
        api.call('POST', '/v1/buy-phone-number', json={'number': FOR_SALE})
    assert api.state()['bought_numbers'] == [FOR_SALE]


def test_bought_numbers_survive_a_restart_and_reset_puts_them_back_for_sale(tmp_path):
    with run_emulator(tmp_path / 'state.sqlite') as running:
        client = Client(running.url)
        assert client.call('POST', '/v1/buy-phone-number', json={'number': FOR_SALE}).status_code == 201
        assert running.stop() == (0, '')
    with run_emulator(tmp_path / 'state.sqlite') as running:
        client = Client(running.url)
        assert FOR_SALE in [item['number'] for item in client.list_all('/v1/purchased-phone-numbers', limit=100)[0]]
        assert client.admin('POST', 'reset').status_code == 200
        assert FOR_SALE not in [item['number'] for item in client.list_all('/v1/purchased-phone-numbers', limit=100)[0]]
        assert FOR_SALE in [item['number'] for item in client.list_all('/v1/list-available-numbers', region='US', limit=100)[0]]
        assert running.stop() == (0, '')


# -------------------------------------------------------------------- faults

def test_fault_defaults_and_replace_semantics(api):
    assert api.admin('GET', 'faults').json() == FAULT_DEFAULTS
    assert api.set_faults(rate_429=0.5, page_size_cap=4) == dict(FAULT_DEFAULTS, rate_429=0.5, page_size_cap=4)
    assert api.set_faults(retry_after=3) == dict(FAULT_DEFAULTS, retry_after=3)
    assert api.admin('GET', 'faults').json() == dict(FAULT_DEFAULTS, retry_after=3)


@pytest.mark.parametrize('faults, key', [
    ({'rate_430': 0.1}, 'rate_430'), ({'rate_429': 1.5}, 'rate_429'), ({'rate_429': 'x'}, 'rate_429'),
    ({'retry_after': True}, 'retry_after'), ({'status_5xx': 501}, 'status_5xx'), ({'latency_ms': -1}, 'latency_ms'),
    ({'page_size_cap': 0}, 'page_size_cap'), ({'list_includes_language': 'yes'}, 'list_includes_language'),
    ({'rng_seed': 1.5}, 'rng_seed'), ({'fail_next_429': -1}, 'fail_next_429'), ({'drop_post_rate': None}, 'drop_post_rate'),
    ({'only': 'POST'}, 'only'), ({'only': '/v1/ai-agents'}, 'only'), ({'only': 'post /v1'}, 'only'), ({'only': 7}, 'only'),
    ({'odd_next': -1}, 'odd_next'), ({'odd_body': 'xml'}, 'odd_body'), ({'redirect_next': 1.5}, 'redirect_next'),
    ({'redirect_to': 'ftp://x'}, 'redirect_to'), ({'twin_next_creates': -1}, 'twin_next_creates'), ({'twin_id': 'first'}, 'twin_id'),
    ({'release_call_status': 400}, 'release_call_status'),
])
def test_bad_fault_settings_are_400_and_keep_the_old_ones(api, faults, key):
    api.set_faults(retry_after=9)
    assert key in assert_error_body(api.admin('PUT', 'faults', json=faults), 400, 'invalid_request')
    assert api.admin('GET', 'faults').json() == dict(FAULT_DEFAULTS, retry_after=9)


def test_rate_429_answers_with_retry_after_and_changes_nothing(api):
    api.set_faults(rate_429=1.0, retry_after=7)
    response = api.call('POST', '/v1/ai-agents', json={'name': 'A', 'language': 'en-US'})
    assert_error_body(response, 429, 'rate_limited')
    assert response.headers['Retry-After'] == '7'
    assert_error_body(api.call('GET', '/v1/ai-agents'), 429, 'rate_limited')
    assert api.admin('GET', 'faults').status_code == 200  # the admin API is never faulted
    assert api.state()['agents'] == []


@pytest.mark.parametrize('status, code', [(500, 'internal_error'), (502, 'bad_gateway'), (503, 'service_unavailable'),
                                          (504, 'gateway_timeout')])
def test_rate_5xx_answers_the_chosen_status(api, status, code):
    agent = api.create_agent()
    api.set_faults(rate_5xx=1.0, status_5xx=status)
    assert_error_body(api.call('DELETE', '/v1/ai-agents/' + agent['id']), status, code)
    api.set_faults()
    assert api.call('GET', '/v1/ai-agents/' + agent['id']).status_code == 200


def test_fail_next_counters_win_over_rates_then_stop(api):
    api.set_faults(fail_next_429=2, fail_next_5xx=1, rate_5xx=0.0)
    assert [api.call('GET', '/v1/ai-agents').status_code for _attempt in range(4)] == [429, 429, 503, 200]
    api.set_faults(fail_next_429=1, rate_5xx=1.0, status_5xx=502)
    assert api.admin('GET', 'faults').json()['fail_next_429'] == 1
    assert [api.call('GET', '/v1/ai-agents').status_code for _attempt in range(2)] == [429, 502]
    assert api.admin('GET', 'faults').json()['fail_next_429'] == 0


def test_only_limits_faults_to_matching_requests(api):
    agent = api.create_agent()
    api.set_faults(only='POST /v1/phone-number-routing', fail_next_5xx=1, rate_429=0.0, status_5xx=500)
    assert api.call('GET', '/v1/phone-number-routing').status_code == 200
    assert api.call('POST', '/v1/ai-agents', json={'name': 'Spared', 'language': 'en-US'}).status_code in (200, 201)
    assert api.admin('GET', 'faults').json()['fail_next_5xx'] == 1  # not used up by the requests it spares
    assert_error_body(api.route(ACME_NUMBER, agent['id']), 500, 'internal_error')
    assert api.state()['routes'] == []
    assert api.route(ACME_NUMBER, agent['id']).status_code in (200, 201)


def test_an_odd_body_follows_a_write_that_was_applied(api):
    api.set_faults(odd_next=1, odd_body='empty', only='POST /v1/ai-agents')
    response = api.call('POST', '/v1/ai-agents', json={'name': 'Quiet', 'language': 'en-US'})
    assert response.status_code == 201 and response.content == b''
    assert [agent['name'] for agent in api.state()['agents']] == ['Quiet']
    assert api.admin('GET', 'faults').json()['odd_next'] == 0


@pytest.mark.parametrize('odd_body, content_type, check', [
    ('html', 'text/html', lambda body: body.startswith(b'<!DOCTYPE html>')),
    ('array', 'application/json', lambda body: isinstance(json.loads(body), list) and json.loads(body)[0]['name'] == 'Listed'),
])
def test_an_odd_body_replaces_a_list_page(api, odd_body, content_type, check):
    api.create_agent(name='Listed')
    api.set_faults(odd_next=1, odd_body=odd_body, only='GET /v1/ai-agents')
    response = api.call('GET', '/v1/ai-agents')
    assert response.status_code == 200 and response.headers['Content-Type'].startswith(content_type)
    assert check(response.content)
    assert api.call('GET', '/v1/ai-agents').json()['data'][0]['name'] == 'Listed'  # one odd answer, then the API again


def test_an_odd_body_never_replaces_an_error(api):
    api.set_faults(odd_next=1, odd_body='html')
    assert_error_body(api.call('GET', '/v1/ai-agents/agent_missing'), 404, 'not_found')
    assert api.admin('GET', 'faults').json()['odd_next'] == 1


def test_a_redirect_points_elsewhere_and_changes_nothing(api):
    api.set_faults(redirect_next=1, redirect_to='http://127.0.0.1:9/v9')
    response = api.call('POST', '/v1/ai-agents?x=1', json={'name': 'Moved', 'language': 'en-US'}, allow_redirects=False)
    assert response.status_code == 307 and response.headers['Location'] == 'http://127.0.0.1:9/v9/ai-agents?x=1'
    assert api.state()['agents'] == []
    assert api.call('POST', '/v1/ai-agents', json={'name': 'Moved', 'language': 'en-US'}).status_code == 201


def test_latency_delays_api_calls_but_not_admin_calls(api):
    api.set_faults(latency_ms=300)
    started = time.monotonic()
    assert api.call('GET', '/v1/ai-agents').status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.admin('GET', 'faults')
    assert time.monotonic() - started < 0.25


def test_drop_next_posts_applies_then_drops(api):
    api.set_faults(drop_next_posts=1)
    assert api.call('GET', '/v1/ai-agents').status_code == 200
    with pytest.raises(requests.ConnectionError):
        api.call('POST', '/v1/ai-agents', json={'name': 'Dropped', 'language': 'en-US'})
    assert [agent['name'] for agent in api.state()['agents']] == ['Dropped']
    assert api.admin('GET', 'requests').json()['requests'][-1]['status'] == 0
    assert api.create_agent('Answered')['name'] == 'Answered'


@pytest.mark.parametrize('twin_id', ['lower', 'higher'])
def test_twin_next_creates_makes_a_same_named_agent_first(api, twin_id):
    api.set_faults(twin_next_creates=1, twin_id=twin_id)
    created = api.create_agent('Twinned', 'hi-IN')
    agents = api.state()['agents']
    assert [(agent['name'], agent['language']) for agent in agents] == [('Twinned', 'hi-IN')] * 2
    twin = next(agent['id'] for agent in agents if agent['id'] != created['id'])
    assert (twin < created['id']) == (twin_id == 'lower')
    assert api.admin('GET', 'faults').json()['twin_next_creates'] == 0
    assert api.create_agent('Alone')['name'] == 'Alone'
    assert len(api.state()['agents']) == 3


def test_drop_post_rate_applies_routes_then_drops(api):
    agent = api.create_agent()
    api.set_faults(drop_post_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.route(ACME_NUMBER, agent['id'])
    assert api.call('GET', '/v1/phone-number-routing/%2B19499800001').json()['agent_id'] == agent['id']
    assert api.call('DELETE', '/v1/phone-number-routing/%2B19499800001').status_code == 200


def test_rng_seed_makes_fault_decisions_reproducible(api):
    def statuses():
        api.set_faults(rate_429=0.5, rng_seed=42)
        return [api.call('GET', '/v1/purchased-phone-numbers?limit=1').status_code for _attempt in range(24)]

    first = statuses()
    assert statuses() == first
    assert set(first) == {200, 429}


def test_list_includes_language_fault(api):
    agent = api.create_agent('One', 'ta-IN')
    api.set_faults(list_includes_language=True)
    assert api.call('GET', '/v1/ai-agents').json()['data'] == [{'id': agent['id'], 'name': 'One', 'language': 'ta-IN', 'status': 'active'}]


def test_echo_auth_in_errors_fault(api):
    assert ACME_KEY not in assert_error_body(api.call('GET', '/v1/ai-agents/agent_00000000'), 404)
    api.set_faults(echo_auth_in_errors=True)
    assert 'Bearer ' + ACME_KEY in assert_error_body(api.call('GET', '/v1/ai-agents/agent_00000000'), 404)
    api.set_faults(echo_auth_in_errors=True, fail_next_429=1)
    assert 'Bearer ' + ACME_KEY in assert_error_body(api.call('GET', '/v1/ai-agents'), 429)


def test_errors_as_text_fault_answers_utf8_text_without_a_charset(api):
    api.set_faults(echo_auth_in_errors=True, errors_as_text=True)
    key = 'pk_wrong_caf\u00e9'  # sent as latin-1, as HTTP clients send a header; echoed as UTF-8
    answer = api.session.get(api.url + '/v1/ai-agents', headers={'Authorization': 'Bearer ' + key}, timeout=10)
    assert answer.status_code == 401 and answer.headers['Content-Type'] == 'text/plain'
    assert answer.content.decode('utf-8').endswith('(Authorization: Bearer %s)' % key)
    assert 'Bearer %s' % key.encode('utf-8').decode('latin-1') in answer.text  # what a client that guesses latin-1 reads


# ---------------------------------------------------- published examples

def run_published(command, emulator, agent_id='agent_9x2d'):
    command = command.replace('https://api.piopiy.com/v1', emulator.url + '/v1')
    command = command.replace('YOUR_API_KEY', ACME_KEY).replace('agent_9x2d', agent_id)
    result = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=20, check=True)
    return json.loads(result.stdout)


def test_published_curl_examples(emulator, api):
    created = run_published(PUBLISHED_CREATE, emulator)
    assert AGENT_ID_RE.fullmatch(created['id']) and TOKEN_RE.fullmatch(created['agent_token'])
    assert (created['name'], created['status']) == ('Support Agent', 'active')

    listed = run_published(PUBLISHED_LIST, emulator)
    assert {'id': created['id'], 'name': 'Support Agent', 'status': 'active'} in listed['data']

    routed = run_published(PUBLISHED_ROUTE, emulator, created['id'])
    assert routed == {'phone_number': '+19499800001', 'route_type': 'ai_agent', 'agent_id': created['id'], 'status': 'connected'}

    assert api.call('DELETE', '/v1/phone-number-routing/%2B19499800001').status_code == 200
    deleted = run_published(PUBLISHED_DELETE, emulator, created['id'])
    assert deleted == {'id': created['id'], 'status': 'deleted'}
    assert api.call('GET', '/v1/ai-agents/' + created['id']).status_code == 404


# ------------------------------------------------------- published profile

# Every call the contract marks [ext], and what the published profile answers it: a read 404, a write 405.
UNPUBLISHED = [
    ('GET', '/v1/ai-agents/{agent}', 404),
    ('PATCH', '/v1/ai-agents/{agent}', 405),
    ('GET', '/v1/phone-number-routing', 404),
    ('GET', '/v1/phone-number-routing/%2B19499800001', 404),
    ('DELETE', '/v1/phone-number-routing/%2B19499800001', 405),
]


def set_profile(api, profile):
    response = api.admin('PUT', 'profile', json={'profile': profile})
    assert response.status_code == 200, response.text
    assert response.json() == {'profile': profile}


@pytest.mark.parametrize('method, path, status', UNPUBLISHED)
def test_published_profile_answers_unpublished_calls_404_or_405_and_changes_nothing(api, method, path, status):
    agent = api.create_agent()
    api.route(ACME_NUMBER, agent['id'])
    set_profile(api, 'published')
    body = {'language': 'hi-IN'} if method == 'PATCH' else None
    response = api.call(method, path.format(agent=agent['id']), json=body)
    assert_error_body(response, status, 'not_found' if status == 404 else 'method_not_allowed')
    if status == 405:
        assert 'PATCH' not in response.headers['Allow'] and method not in response.headers['Allow']
    state = api.state()
    assert [(item['id'], item['language']) for item in state['agents']] == [(agent['id'], 'en-US')]
    assert [(route['phone_number'], route['agent_id']) for route in state['routes']] == [(ACME_NUMBER, agent['id'])]


def test_published_profile_keeps_every_published_call(emulator, api):
    set_profile(api, 'published')
    created = run_published(PUBLISHED_CREATE, emulator)
    assert {'id': created['id'], 'name': 'Support Agent', 'status': 'active'} in run_published(PUBLISHED_LIST, emulator)['data']
    assert run_published(PUBLISHED_ROUTE, emulator, created['id'])['status'] == 'connected'
    assert run_published(PUBLISHED_ROUTE, emulator, created['id'])['agent_id'] == created['id']  # the upsert again
    numbers, _pages = api.list_all('/v1/purchased-phone-numbers', limit=100)
    assert len(numbers) == ACME_NUMBER_COUNT
    assert_error_body(api.call('DELETE', '/v1/ai-agents/' + created['id']), 409, 'conflict')  # still routed
    set_profile(api, 'extended')
    assert api.call('DELETE', '/v1/phone-number-routing/%2B19499800001').status_code == 200
    set_profile(api, 'published')
    assert run_published(PUBLISHED_DELETE, emulator, created['id']) == {'id': created['id'], 'status': 'deleted'}


def test_published_profile_unknown_agents_and_paths_answer_as_before(api):
    set_profile(api, 'published')
    assert_error_body(api.call('DELETE', '/v1/ai-agents/agent_000000000000'), 404, 'not_found')
    assert_error_body(api.call('GET', '/v1/nope'), 404, 'not_found')
    assert_error_body(api.call('PUT', '/v1/ai-agents'), 405, 'method_not_allowed')


def test_profile_admin_endpoint_validates_and_reset_restores_the_start_profile(api):
    assert api.admin('GET', 'profile').json() == {'profile': 'extended'}
    for body in ({'profile': 'open'}, {}, {'profile': 'published', 'other': 1}):
        assert api.admin('PUT', 'profile', json=body).status_code == 400
    set_profile(api, 'published')
    assert api.admin('POST', 'reset').status_code == 200
    assert api.admin('GET', 'profile').json() == {'profile': 'extended'}


def test_api_profile_option_starts_the_emulator_published(tmp_path):
    with run_emulator(tmp_path / 'state.sqlite', '--api-profile', 'published') as running:
        client = Client(running.url)
        assert client.admin('GET', 'profile').json() == {'profile': 'published'}
        assert_error_body(client.call('GET', '/v1/phone-number-routing'), 404, 'not_found')
        assert client.call('GET', '/v1/ai-agents').status_code == 200
        assert client.admin('POST', 'reset').status_code == 200
        assert client.admin('GET', 'profile').json() == {'profile': 'published'}
        assert running.stop() == (0, '')


# ------------------------------------------------------ process lifecycle

def test_state_persists_across_restarts_and_reset_wipes_it(tmp_path):
    db_path = tmp_path / 'state.sqlite'
    with run_emulator(db_path) as running:
        client = Client(running.url)
        agent = client.create_agent('Persistent', 'en-IN')
        client.route(ACME_NUMBER, agent['id'])
        number_ids = client.list_all('/v1/purchased-phone-numbers', limit=100)[0]
        assert running.stop() == (0, '')
    with run_emulator(db_path) as running:
        client = Client(running.url)
        assert client.call('GET', '/v1/ai-agents/' + agent['id']).json()['language'] == 'en-IN'
        assert client.call('GET', '/v1/phone-number-routing/%2B19499800001').json()['agent_id'] == agent['id']
        assert client.list_all('/v1/purchased-phone-numbers', limit=100)[0] == number_ids
        assert running.stop() == (0, '')
    with run_emulator(db_path, '--reset') as running:
        client = Client(running.url)
        assert client.list_all('/v1/ai-agents')[0] == []
        assert client.list_all('/v1/phone-number-routing')[0] == []
        assert len(client.list_all('/v1/purchased-phone-numbers', limit=100)[0]) == ACME_NUMBER_COUNT
        assert running.stop() == (0, '')


def test_json_seed_is_reloaded_on_every_start(tmp_path):
    db_path, seed = tmp_path / 'state.sqlite', tmp_path / 'seed.json'
    workspace = {'id': 'ws_json', 'api_keys': [{'key': 'pk_json'}], 'purchased_numbers': ['+15550000001'],
                 'purchased_number_ranges': [{'start': '+15550000100', 'count': 3}]}
    seed.write_text(json.dumps({'workspaces': [workspace]}))
    with run_emulator(db_path, seed=seed) as running:
        client = Client(running.url)
        numbers = [item['number'] for item in client.list_all('/v1/purchased-phone-numbers', key='pk_json')[0]]
        assert numbers == ['+15550000001', '+15550000100', '+15550000101', '+15550000102']
        agent = client.create_agent(key='pk_json')
        assert running.stop() == (0, '')
    workspace.update(purchased_numbers=['+15550000009'], purchased_number_ranges=[])
    seed.write_text(json.dumps({'workspaces': [workspace]}))
    with run_emulator(db_path, seed=seed) as running:
        client = Client(running.url)
        numbers = [item['number'] for item in client.list_all('/v1/purchased-phone-numbers', key='pk_json')[0]]
        assert numbers == ['+15550000009']
        assert client.call('GET', '/v1/ai-agents/' + agent['id'], key='pk_json').status_code == 200
        assert running.stop() == (0, '')


@pytest.mark.parametrize('seed_text', ['{"workspaces": [{"id": "ws", "purchased_numbers": [15550000001]}]}',
                                       '{"workspaces": []}', 'not json'])
def test_bad_seed_exits_2_with_a_message(tmp_path, seed_text):
    seed = tmp_path / 'seed.json'
    seed.write_text(seed_text)
    command = [sys.executable, EMULATOR, '--port', '0', '--db', str(tmp_path / 'db.sqlite'), '--seed', str(seed)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    assert result.returncode == 2 and result.stdout == ''
    assert 'cannot load seed' in result.stderr


def test_sigint_exits_0_and_log_file_records_api_calls(tmp_path):
    log_file = tmp_path / 'access.log'
    with run_emulator(tmp_path / 'state.sqlite', '--log-file', str(log_file)) as running:
        client = Client(running.url)
        client.call('GET', '/v1/ai-agents')
        client.call('GET', '/v1/nope')
        client.admin('GET', 'state')
        assert running.stop(signal.SIGINT) == (0, '')
    lines = log_file.read_text().splitlines()
    assert len(lines) == 2
    assert '"GET /v1/ai-agents" 200 ws_acme' in lines[0] and '"GET /v1/nope" 404' in lines[1]


def test_admin_api_is_refused_from_non_loopback_clients(tmp_path):
    address = non_loopback_address()
    if address is None:
        pytest.skip('this host has no non-loopback IPv4 address to test from')
    with run_emulator(tmp_path / 'state.sqlite', host=address) as running:
        client = Client(running.url)
        assert client.call('GET', '/v1/ai-agents').status_code == 200
        for method, name in (('GET', 'state'), ('POST', 'reset'), ('GET', 'tokens'), ('PUT', 'faults')):
            response = client.admin(method, name, json={'rate_429': 1.0})
            assert_error_body(response, 404, 'not_found')
        assert client.call('GET', '/v1/ai-agents').status_code == 200  # the PUT did not set a fault
        assert running.stop() == (0, '')
