# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local HTTP emulator of the Piopiy AI Agents API, for tests and demos.

Run it with:

    python tests/emulator/piopiy_emulator.py --host 127.0.0.1 --port 0 \\
        --db /tmp/piopiy.sqlite --seed tests/emulator/seeds/default.yml [--reset]

It prints one line, PIOPIY_EMULATOR_URL=http://HOST:PORT, and serves the API
under /v1 plus a loopback-only test API under /__emulator__/ (request log,
reset, fault injection, state dump).  Only the standard library is used;
PyYAML is needed only when the seed file is YAML.
"""

import argparse
import base64
import contextlib
import hashlib
import ipaddress
import json
import os
import random
import re
import secrets
import signal
import socket
import socketserver
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

try:
    import yaml
except ImportError:  # JSON seeds work without PyYAML
    yaml = None


API_PREFIX = '/v1/'
ADMIN_PREFIX = '/__emulator__/'
DEFAULT_SEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'seeds', 'default.yml')

MAX_BODY_BYTES = 64 * 1024
# Oversized bodies up to this size are read and thrown away so the 413 reaches
# the client and the connection stays usable; anything bigger closes it.
MAX_DISCARD_BYTES = 8 * 1024 * 1024
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_NAME_LENGTH = 128
MAX_NUMBERS_IN_MESSAGE = 10
ODD_BODIES = ('empty', 'html', 'array')
ODD_HTML = b'<!DOCTYPE html><html><head><title>Down for maintenance</title></head><body>Back soon.</body></html>'
WRITE_METHODS = frozenset(('POST', 'PUT', 'PATCH', 'DELETE'))

# API profiles: `extended` answers every call of the contract; `published` answers only those Piopiy publishes,
# as a live account may: every call the contract marks [ext] answers 404 (a read) or 405 (a write), as an endpoint
# or a method the server does not have would. Keys: (endpoint, whether the path has an id), method.
PROFILES = ('extended', 'published')
UNPUBLISHED_CALLS = frozenset((
    (('ai-agents', True), 'GET'),
    (('ai-agents', True), 'PATCH'),
    (('phone-number-routing', False), 'GET'),
    (('phone-number-routing', True), 'GET'),
    (('phone-number-routing', True), 'DELETE'),
    (('release-phone-number', False), 'POST'),
))

E164_RE = re.compile(r'\+[1-9][0-9]{7,14}')
REGION_RE = re.compile(r'[A-Za-z]{2}')
LANGUAGE_RE = re.compile(r'[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*')
LIMIT_RE = re.compile(r'[0-9]{1,4}')
LENGTH_RE = re.compile(r'[0-9]{1,18}')
SEQ_RE = re.compile(r'[0-9]{1,18}')

ERROR_CODES = {
    400: 'invalid_request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not_found',
    405: 'method_not_allowed',
    409: 'conflict',
    413: 'payload_too_large',
    422: 'invalid_request',
    429: 'rate_limited',
    500: 'internal_error',
    502: 'bad_gateway',
    503: 'service_unavailable',
    504: 'gateway_timeout',
}


def error_code(status):
    """The error code string for an HTTP status, with a sane fallback."""
    if status in ERROR_CODES:
        return ERROR_CODES[status]
    return 'internal_error' if status >= 500 else 'invalid_request'


class ApiError(Exception):
    """An error answer: raised anywhere, turned into the JSON error body."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def reply(self):
        payload = {'error': {'code': error_code(self.status), 'message': self.message}}
        return Reply(self.status, payload, self.headers)


class Reply:
    """One answer: status, JSON payload and extra headers, or a dropped connection.

    An odd-answer fault replaces the JSON with `body` (bytes) of `content_type`.
    """

    def __init__(self, status, payload, headers=None):
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})
        self.dropped = False
        self.body = None
        self.content_type = 'application/json'

    def make_odd(self, kind):
        """Keep the status, swap the body for what a gateway in front of an API may send: nothing, a web page, a bare array."""
        if kind == 'empty':
            self.body = b''
        elif kind == 'html':
            self.body, self.content_type = ODD_HTML, 'text/html; charset=utf-8'
        else:
            items = self.payload.get('data') if isinstance(self.payload.get('data'), list) else [self.payload]
            self.body = json.dumps(items).encode('ascii')


class Request:
    """The parts of an HTTP request the emulator logic needs, free of socket details."""

    def __init__(self, method, target, headers, body, body_error=None):
        self.method = method
        self.raw_path, _separator, self.query = target.partition('?')
        self.headers = headers
        self.body = body
        self.body_error = body_error

    def params(self):
        return parse_qs(self.query, keep_blank_values=True)

    def param(self, name):
        values = self.params().get(name)
        return values[0] if values else None


# ---------------------------------------------------------------- seed files

class SeedError(ValueError):
    """The seed file does not describe a usable set of workspaces."""


@dataclass(frozen=True)
class Seed:
    """A normalized seed: the workspaces (keys, purchased numbers) and the numbers for sale to any of them."""

    workspaces: list
    available: list  # {'number', 'region', 'capabilities'}, in seed order


def load_seed(path):
    """Read a YAML or JSON seed file into a Seed."""
    with open(path, 'rb') as handle:
        text = handle.read().decode('utf-8')
    if path.endswith(('.yml', '.yaml')):
        if yaml is None:
            raise SeedError('PyYAML is needed for YAML seeds; use a .json seed instead')
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SeedError('not valid YAML: %s' % error) from None
    else:
        data = json.loads(text)
    return normalize_seed(data)


def normalize_seed(data):
    if not isinstance(data, dict) or not isinstance(data.get('workspaces'), list) or not data['workspaces']:
        raise SeedError('the seed must be a mapping with a non-empty "workspaces" list')
    workspaces = [normalize_workspace(item, index) for index, item in enumerate(data['workspaces'])]
    ids = [workspace['id'] for workspace in workspaces]
    keys = [key for workspace in workspaces for key, _read_only in workspace['api_keys']]
    if len(set(ids)) != len(ids):
        raise SeedError('workspace ids must be unique')
    if len(set(keys)) != len(keys):
        raise SeedError('an API key may belong to one workspace only')
    return Seed(workspaces, normalize_available(data))


def normalize_available(data):
    """The numbers for sale: available_numbers items and available_number_ranges, each with a region and capabilities."""
    available = []
    for index, item in enumerate(data.get('available_numbers') or []):
        where = 'available_numbers[%d]' % index
        number = item.get('number') if isinstance(item, dict) else None
        if not isinstance(number, str) or not E164_RE.fullmatch(number):
            raise SeedError('%s needs an E.164 string "number" (quote numbers in YAML)' % where)
        available.append(dict(number=number, **number_offer(item, where)))
    for index, item in enumerate(data.get('available_number_ranges') or []):
        where = 'available_number_ranges[%d]' % index
        offer = number_offer(item, where)
        available.extend(dict(number=number, **offer) for number in expand_number_range(item, where))
    unique = dict((item['number'], item) for item in reversed(available))
    return [unique[number] for number in dict.fromkeys(item['number'] for item in available)]


def number_offer(item, where):
    """The region (upper case) and capabilities of a number for sale."""
    region = item.get('region') if isinstance(item, dict) else None
    capabilities = item.get('capabilities', ['voice']) if isinstance(item, dict) else None
    if not isinstance(region, str) or not REGION_RE.fullmatch(region):
        raise SeedError('%s needs a "region" of two letters, such as US' % where)
    if not isinstance(capabilities, list) or not capabilities or not all(isinstance(value, str) for value in capabilities):
        raise SeedError('%s: "capabilities" must be a non-empty list of strings, such as [voice, sms]' % where)
    return {'region': region.upper(), 'capabilities': capabilities}


def region_of(number):
    """The region a released number that was never for sale goes back to, from its country code."""
    for prefix, region in (('+1', 'US'), ('+44', 'GB'), ('+91', 'IN')):
        if number.startswith(prefix):
            return region
    return 'ZZ'


def normalize_workspace(item, index):
    where = 'workspaces[%d]' % index
    if not isinstance(item, dict) or not isinstance(item.get('id'), str) or not item['id']:
        raise SeedError('%s needs a string "id"' % where)
    numbers = list(item.get('purchased_numbers') or [])
    for number_range in item.get('purchased_number_ranges') or []:
        numbers.extend(expand_number_range(number_range, where))
    for number in numbers:
        if not isinstance(number, str) or not E164_RE.fullmatch(number):
            raise SeedError('%s: %r is not an E.164 number (quote numbers in YAML)' % (where, number))
    return {
        'id': item['id'],
        'name': str(item.get('name') or item['id']),
        'api_keys': [normalize_key(key, where) for key in item.get('api_keys') or []],
        'numbers': list(dict.fromkeys(numbers)),
    }


def normalize_key(item, where):
    if not isinstance(item, dict) or not isinstance(item.get('key'), str) or not item['key']:
        raise SeedError('%s: every api_keys entry needs a string "key"' % where)
    scope = item.get('scope', 'full')
    if scope not in ('full', 'read'):
        raise SeedError('%s: key scope must be "full" or "read", not %r' % (where, scope))
    return item['key'], scope == 'read'


def expand_number_range(item, where):
    start = item.get('start') if isinstance(item, dict) else None
    count = item.get('count') if isinstance(item, dict) else None
    if not isinstance(start, str) or not E164_RE.fullmatch(start):
        raise SeedError('%s: a number range needs an E.164 string "start"' % where)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100000:
        raise SeedError('%s: a number range needs a "count" from 1 to 100000' % where)
    digits = start[1:]
    return ['+' + str(int(digits) + offset).zfill(len(digits)) for offset in range(count)]


def number_id(number):
    """A stable id for a purchased number, so it survives restarts and reseeding."""
    return 'num_' + hashlib.sha256(number.encode('ascii')).hexdigest()[:10]


# ------------------------------------------------------------------- storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    read_only INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS numbers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    number TEXT NOT NULL,
    UNIQUE (workspace_id, number)
);
CREATE TABLE IF NOT EXISTS agents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    language TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS routes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    phone_number TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    UNIQUE (workspace_id, phone_number)
);
CREATE TABLE IF NOT EXISTS inventory (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    region TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    owner TEXT
);
CREATE TABLE IF NOT EXISTS issued_tokens (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL
);
"""


def agent_view(row, include_language=True):
    agent = {'id': row['id'], 'name': row['name'], 'status': 'active'}
    if include_language:
        agent['language'] = row['language']
    return agent


def route_view(row):
    return {'phone_number': row['phone_number'], 'route_type': 'ai_agent', 'agent_id': row['agent_id'], 'status': 'connected'}


def number_view(row):
    return {'id': row['id'], 'number': row['number'], 'status': 'active'}


def available_view(row):
    return {'id': number_id(row['number']), 'number': row['number'], 'region': row['region'],
            'capabilities': json.loads(row['capabilities'])}


class Store:
    """All persistent state in one sqlite file; one lock serializes every access.

    Every list is ordered by an AUTOINCREMENT sequence that is never reused,
    which is what makes cursors stable when items are deleted between pages.
    """

    def __init__(self, db_path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=NORMAL')
        self._db.executescript(SCHEMA)
        # API key -> (workspace, read only), read once: every request asks it, and only load_seed changes the keys.
        self._key_owners = None

    @contextlib.contextmanager
    def _transaction(self):
        """Hold the lock for one transaction; an exception rolls everything back."""
        with self._lock, self._db:
            yield self._db

    def _read(self, sql, params=()):
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self):
        with self._lock:
            self._db.close()

    # seed and reset

    def load_seed(self, seed, wipe_world):
        """Replace workspaces, keys and numbers with the seed; optionally drop agents, routes and what was bought or released.

        Numbers bought through the API are kept otherwise (the inventory remembers their owner), as agents and routes are.
        """
        with self._transaction() as db:
            self._key_owners = None
            if wipe_world:
                for table in ('routes', 'agents', 'issued_tokens', 'inventory'):
                    db.execute('DELETE FROM %s' % table)
            for table in ('api_keys', 'numbers', 'workspaces'):
                db.execute('DELETE FROM %s' % table)
            db.executemany('INSERT OR IGNORE INTO inventory (number, region, capabilities) VALUES (?, ?, ?)',
                           [(item['number'], item['region'], json.dumps(item['capabilities'])) for item in seed.available])
            for workspace in seed.workspaces:
                db.execute('INSERT INTO workspaces (id, name) VALUES (?, ?)', (workspace['id'], workspace['name']))
                db.executemany('INSERT INTO api_keys (key, workspace_id, read_only) VALUES (?, ?, ?)',
                               [(key, workspace['id'], int(read_only)) for key, read_only in workspace['api_keys']])
                db.executemany('INSERT INTO numbers (workspace_id, id, number) VALUES (?, ?, ?)',
                               [(workspace['id'], number_id(number), number) for number in workspace['numbers']])
            bought = db.execute('SELECT owner, number FROM inventory WHERE owner IS NOT NULL ORDER BY seq').fetchall()
            db.executemany('INSERT OR IGNORE INTO numbers (workspace_id, id, number) VALUES (?, ?, ?)',
                           [(row['owner'], number_id(row['number']), row['number']) for row in bought])

    def key_owner(self, key):
        """(workspace_id, read_only) for an API key, or None."""
        with self._lock:  # the lock of load_seed's transaction: the keys are never read half replaced
            if self._key_owners is None:
                rows = self._db.execute('SELECT key, workspace_id, read_only FROM api_keys').fetchall()
                self._key_owners = dict((row['key'], (row['workspace_id'], bool(row['read_only']))) for row in rows)
            return self._key_owners.get(key)

    # pages

    def _page(self, sql, params, after, size):
        """Rows with seq > after, at most size of them, and the seq to continue from (or None)."""
        rows = self._read(sql + ' AND seq > ? ORDER BY seq LIMIT ?', params + (after, size + 1))
        if len(rows) <= size:
            return rows, None
        rows = rows[:size]
        return rows, rows[-1]['seq']

    def agent_page(self, workspace, after, size):
        return self._page('SELECT * FROM agents WHERE workspace_id = ?', (workspace,), after, size)

    def route_page(self, workspace, agent_id, after, size):
        if agent_id is None:
            return self._page('SELECT * FROM routes WHERE workspace_id = ?', (workspace,), after, size)
        return self._page('SELECT * FROM routes WHERE workspace_id = ? AND agent_id = ?', (workspace, agent_id), after, size)

    def number_page(self, workspace, after, size):
        return self._page('SELECT * FROM numbers WHERE workspace_id = ?', (workspace,), after, size)

    def available_page(self, region, after, size):
        """The numbers for sale in a region: in the inventory, owned by nobody, purchased by no workspace."""
        return self._page('SELECT * FROM inventory WHERE region = ? AND owner IS NULL AND number NOT IN (SELECT number FROM numbers)',
                          (region,), after, size)

    # buying and releasing numbers

    def buy_number(self, workspace, number):
        with self._transaction() as db:
            offer = db.execute('SELECT * FROM inventory WHERE number = ?', (number,)).fetchone()
            taken = db.execute('SELECT 1 FROM numbers WHERE number = ?', (number,)).fetchone()
            if taken is not None or (offer is not None and offer['owner'] is not None):
                raise ApiError(409, 'phone number %s is no longer available' % number)
            if offer is None:
                raise ApiError(404, 'phone number %s is not for sale' % number)
            db.execute('UPDATE inventory SET owner = ? WHERE number = ?', (workspace, number))
            db.execute('INSERT INTO numbers (workspace_id, id, number) VALUES (?, ?, ?)', (workspace, number_id(number), number))
        return {'id': number_id(number), 'number': number, 'status': 'active'}

    def release_number(self, workspace, number):
        """Give a purchased number back: its route goes with it, and it is for sale again."""
        with self._transaction() as db:
            deleted = db.execute('DELETE FROM numbers WHERE workspace_id = ? AND number = ?', (workspace, number)).rowcount
            if not deleted:
                raise ApiError(404, 'phone number %s is not purchased by this workspace' % number)
            db.execute('DELETE FROM routes WHERE workspace_id = ? AND phone_number = ?', (workspace, number))
            if not db.execute('UPDATE inventory SET owner = NULL WHERE number = ?', (number,)).rowcount:
                db.execute('INSERT INTO inventory (number, region, capabilities) VALUES (?, ?, ?)',
                           (number, region_of(number), json.dumps(['voice'])))
        return {'id': number_id(number), 'number': number, 'status': 'released'}

    # agents

    @staticmethod
    def _agent_row(db, workspace, agent_id):
        row = db.execute('SELECT * FROM agents WHERE workspace_id = ? AND id = ?', (workspace, agent_id)).fetchone()
        if row is None:
            raise ApiError(404, 'agent %s not found' % agent_id)
        return row

    @staticmethod
    def _new_agent_id(db):
        while True:
            agent_id = 'agent_' + secrets.token_hex(6)
            if db.execute('SELECT 1 FROM agents WHERE id = ?', (agent_id,)).fetchone() is None:
                return agent_id

    def create_agent(self, workspace, name, language, twin=None):
        """twin (lower or higher): first create another agent with the name, its id sorting that way from this one's."""
        token = 'agt_live_' + secrets.token_hex(16)
        with self._transaction() as db:
            agent_id = self._new_agent_id(db)
            if twin:
                twin_id = self._new_agent_id(db)
                while twin_id == agent_id:
                    twin_id = self._new_agent_id(db)
                low, high = sorted((agent_id, twin_id))
                twin_id, agent_id = (low, high) if twin == 'lower' else (high, low)
                db.execute('INSERT INTO agents (id, workspace_id, name, language) VALUES (?, ?, ?, ?)', (twin_id, workspace, name, language))
                db.execute('INSERT INTO issued_tokens (token) VALUES (?)', ('agt_live_' + secrets.token_hex(16),))
            db.execute('INSERT INTO agents (id, workspace_id, name, language) VALUES (?, ?, ?, ?)',
                       (agent_id, workspace, name, language))
            db.execute('INSERT INTO issued_tokens (token) VALUES (?)', (token,))
        return {'id': agent_id, 'name': name, 'language': language, 'status': 'active', 'agent_token': token}

    def get_agent(self, workspace, agent_id):
        with self._transaction() as db:
            return agent_view(self._agent_row(db, workspace, agent_id))

    def update_agent(self, workspace, agent_id, changes):
        with self._transaction() as db:
            self._agent_row(db, workspace, agent_id)
            for field in ('name', 'language'):  # fixed column names, never taken from input
                if field in changes:
                    db.execute('UPDATE agents SET %s = ? WHERE id = ?' % field, (changes[field], agent_id))
            return agent_view(self._agent_row(db, workspace, agent_id))

    def delete_agent(self, workspace, agent_id):
        with self._transaction() as db:
            self._agent_row(db, workspace, agent_id)
            numbers = [row['phone_number'] for row in db.execute(
                'SELECT phone_number FROM routes WHERE workspace_id = ? AND agent_id = ? ORDER BY seq', (workspace, agent_id))]
            if numbers:
                raise ApiError(409, 'agent %s still has phone numbers routed to it (%s); remove those routes first'
                               % (agent_id, summarize_numbers(numbers)))
            db.execute('DELETE FROM agents WHERE id = ?', (agent_id,))

    # routes

    def upsert_route(self, workspace, phone_number, agent_id):
        """Point a purchased number at an agent; True when the route is new."""
        with self._transaction() as db:
            self._agent_row(db, workspace, agent_id)
            purchased = db.execute('SELECT 1 FROM numbers WHERE workspace_id = ? AND number = ?', (workspace, phone_number)).fetchone()
            if purchased is None:
                raise ApiError(404, 'phone number %s is not purchased by this workspace' % phone_number)
            # Updating in place keeps the route's position in the list order.
            updated = db.execute('UPDATE routes SET agent_id = ? WHERE workspace_id = ? AND phone_number = ?',
                                 (agent_id, workspace, phone_number)).rowcount
            if not updated:
                db.execute('INSERT INTO routes (workspace_id, phone_number, agent_id) VALUES (?, ?, ?)',
                           (workspace, phone_number, agent_id))
            return not updated

    def get_route(self, workspace, phone_number):
        rows = self._read('SELECT * FROM routes WHERE workspace_id = ? AND phone_number = ?', (workspace, phone_number))
        if not rows:
            raise ApiError(404, 'phone number %s has no route' % phone_number)
        return route_view(rows[0])

    def delete_route(self, workspace, phone_number):
        with self._transaction() as db:
            deleted = db.execute('DELETE FROM routes WHERE workspace_id = ? AND phone_number = ?', (workspace, phone_number)).rowcount
        if not deleted:
            raise ApiError(404, 'phone number %s has no route' % phone_number)

    # debugging views for the admin API

    def dump_state(self):
        with self._lock:
            workspaces = self._db.execute('SELECT * FROM workspaces ORDER BY id').fetchall()
            return {'workspaces': [self._dump_workspace(workspace) for workspace in workspaces]}

    def _dump_workspace(self, workspace):
        params = (workspace['id'],)
        agents = self._db.execute('SELECT * FROM agents WHERE workspace_id = ? ORDER BY seq', params).fetchall()
        routes = self._db.execute('SELECT * FROM routes WHERE workspace_id = ? ORDER BY seq', params).fetchall()
        count = self._db.execute('SELECT COUNT(*) FROM numbers WHERE workspace_id = ?', params).fetchone()[0]
        bought = self._db.execute('SELECT number FROM inventory WHERE owner = ? ORDER BY seq', params).fetchall()
        return {
            'id': workspace['id'],
            'name': workspace['name'],
            'purchased_numbers': count,
            'bought_numbers': [row['number'] for row in bought],
            'agents': [agent_view(row) for row in agents],
            'routes': [route_view(row) for row in routes],
        }

    def issued_tokens(self):
        return [row['token'] for row in self._read('SELECT token FROM issued_tokens ORDER BY seq')]


def summarize_numbers(numbers):
    shown = ', '.join(numbers[:MAX_NUMBERS_IN_MESSAGE])
    hidden = len(numbers) - MAX_NUMBERS_IN_MESSAGE
    return shown + (' and %d more' % hidden if hidden > 0 else '')


# ------------------------------------------------------------ fault injection

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_rate(value):
    return (_is_int(value) or isinstance(value, float)) and 0.0 <= value <= 1.0


def _valid_count(value):
    return _is_int(value) and value >= 0


FAULT_RULES = {
    # key: (default, validity check, what a valid value is)
    'rate_429': (0.0, _valid_rate, 'a number from 0 to 1'),
    'retry_after': (1, _valid_count, 'an integer >= 0'),
    'rate_5xx': (0.0, _valid_rate, 'a number from 0 to 1'),
    'status_5xx': (503, lambda value: _is_int(value) and value in (500, 502, 503, 504), 'one of 500, 502, 503, 504'),
    'latency_ms': (0, lambda value: _valid_count(value) and value <= 60000, 'an integer from 0 to 60000'),
    'drop_post_rate': (0.0, _valid_rate, 'a number from 0 to 1'),
    'page_size_cap': (None, lambda value: value is None or (_is_int(value) and value >= 1), 'null or an integer >= 1'),
    'list_includes_language': (False, lambda value: isinstance(value, bool), 'true or false'),
    'echo_auth_in_errors': (False, lambda value: isinstance(value, bool), 'true or false'),
    'errors_as_text': (False, lambda value: isinstance(value, bool), 'true or false'),
    'rng_seed': (None, lambda value: value is None or _is_int(value), 'null or an integer'),
    'fail_next_429': (0, _valid_count, 'an integer >= 0'),
    'fail_next_5xx': (0, _valid_count, 'an integer >= 0'),
    'drop_next_posts': (0, _valid_count, 'an integer >= 0'),
    'odd_next': (0, _valid_count, 'an integer >= 0'),
    'odd_body': ('empty', lambda value: value in ODD_BODIES, 'one of %s' % ', '.join(ODD_BODIES)),
    'redirect_next': (0, _valid_count, 'an integer >= 0'),
    'redirect_to': ('http://127.0.0.2:9/v1', lambda value: isinstance(value, str) and value.startswith(('http://', 'https://')),
                    'an http:// or https:// URL'),
    # A concurrent run's create landing just before this one: the next agent creates first make another agent with the
    # same name and language, whose id sorts below (twin_id: lower) or above (higher) the id of the agent created.
    'twin_next_creates': (0, _valid_count, 'an integer >= 0'),
    'twin_id': ('lower', lambda value: value in ('lower', 'higher'), 'lower or higher'),
    # The [ext] release call missing, as on an API that only has the published calls: it answers this status.
    'release_call_status': (None, lambda value: value is None or value in (404, 405, 501), 'null or one of 404, 405, 501'),
    'only': (None, lambda value: value is None or (isinstance(value, str) and re.match(r'^[A-Z]+ /\S*$', value) is not None),
             'null or a method and a path prefix, such as "POST /v1/phone-number-routing"'),
}


def validate_faults(settings):
    """Complete a fault settings object with defaults, or raise a 400 naming the bad key."""
    unknown = sorted(set(settings) - set(FAULT_RULES))
    if unknown:
        raise ApiError(400, 'unknown fault setting(s): %s' % ', '.join(unknown))
    result = {}
    for key, (default, is_valid, expected) in FAULT_RULES.items():
        value = settings.get(key, default)
        if not is_valid(value):
            raise ApiError(400, 'fault setting %s must be %s' % (key, expected))
        result[key] = value
    return result


def rate_limited_error(settings):
    return ApiError(429, 'rate limited by emulator fault injection', {'Retry-After': str(settings['retry_after'])})


def server_error(settings):
    return ApiError(settings['status_5xx'], 'transient failure injected by the emulator')


class Faults:
    """Current fault settings; one-shot counters win over random rates."""

    def __init__(self):
        self._lock = threading.Lock()
        self._settings = {}
        self._rng = random.Random()
        self.replace({})

    def replace(self, settings):
        settings = validate_faults(settings)
        with self._lock:
            self._settings = settings
            # A fixed seed makes the sequence of fault decisions reproducible.
            self._rng = random.Random(settings['rng_seed'])

    def snapshot(self):
        with self._lock:
            return dict(self._settings)

    def _take(self, counter):
        if self._settings[counter] > 0:
            self._settings[counter] -= 1
            return True
        return False

    def _chance(self, rate):
        # Rates of 0 never touch the generator, so a seeded run only depends on the rates in use.
        return rate > 0 and self._rng.random() < rate

    def _targets(self, method, path):
        """Whether the 429, 5xx, drop, odd-body and redirect faults apply to this request (the `only` setting)."""
        only = self._settings['only']
        if only is None:
            return True
        only_method, only_path = only.split(' ', 1)
        return method == only_method and path.startswith(only_path)

    def pick_error(self, method, path):
        """The ApiError to inject instead of answering this request, or None."""
        with self._lock:
            settings = self._settings
            if not self._targets(method, path):
                return None
            if self._take('fail_next_429'):
                return rate_limited_error(settings)
            if self._take('fail_next_5xx'):
                return server_error(settings)
            if self._chance(settings['rate_429']):
                return rate_limited_error(settings)
            if self._chance(settings['rate_5xx']):
                return server_error(settings)
        return None

    def take_redirect(self, method, path):
        """The URL to redirect this request to instead of answering it, or None."""
        with self._lock:
            if self._targets(method, path) and self._take('redirect_next'):
                return self._settings['redirect_to']
        return None

    def take_odd_body(self, method, path):
        """The kind of odd body to answer this (already handled, successful) request with, or None."""
        with self._lock:
            if self._targets(method, path) and self._take('odd_next'):
                return self._settings['odd_body']
        return None

    def take_twin(self):
        """lower or higher when this agent create is to make a twin first (twin_next_creates), else None."""
        with self._lock:
            return self._settings['twin_id'] if self._take('twin_next_creates') else None

    def should_drop(self, method, path):
        """Whether to close the connection instead of answering this (already applied) request."""
        if method != 'POST':
            return False
        with self._lock:
            if not self._targets(method, path):
                return False
            return self._take('drop_next_posts') or self._chance(self._settings['drop_post_rate'])


# ----------------------------------------------------------------- request log

class RequestLog:
    """Every API request since the last clear, for tests to count calls."""

    BASE_COUNTS = ('GET', 'POST', 'PATCH', 'DELETE')

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def add(self, request, status, workspace):
        entry = {'method': request.method, 'path': request.raw_path, 'query': request.query, 'status': status, 'workspace': workspace}
        with self._lock:
            self._entries.append(entry)

    def clear(self):
        with self._lock:
            self._entries = []

    def summary(self):
        with self._lock:
            entries = list(self._entries)
        counts = dict.fromkeys(self.BASE_COUNTS, 0)
        for entry in entries:
            counts[entry['method']] = counts.get(entry['method'], 0) + 1
        return {'requests': entries, 'counts': counts, 'total': len(entries)}


class AccessLog:
    """Optional access log file; silent when no file is configured."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._handle = open(path, 'a', encoding='utf-8') if path else None  # pylint: disable=consider-using-with

    def write(self, line):
        with self._lock:
            if self._handle is not None:
                self._handle.write('%s %s\n' % (time.strftime('%Y-%m-%dT%H:%M:%S'), line))
                self._handle.flush()

    def close(self):
        if self._handle is not None:
            with self._lock:
                self._handle.close()
                self._handle = None


# ----------------------------------------------------------- input validation

def parse_json_object(body):
    if not body:
        raise ApiError(400, 'request body must be a JSON object')
    try:
        value = json.loads(body.decode('utf-8'), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ApiError(400, 'request body is not valid JSON: %s' % error) from None
    if not isinstance(value, dict):
        raise ApiError(400, 'request body must be a JSON object')
    return value


def _reject_constant(name):
    raise ValueError('%s is not allowed' % name)


def check_fields(body, allowed, required):
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(422, 'unknown field(s): %s' % ', '.join(unknown))
    missing = [field for field in required if field not in body]
    if missing:
        raise ApiError(422, 'missing required field(s): %s' % ', '.join(missing))


def is_text(value):
    """A str that can be stored and sent back (lone surrogates from JSON escapes cannot)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def validate_agent_fields(body, partial):
    check_fields(body, ('name', 'language'), () if partial else ('name', 'language'))
    if not body:
        raise ApiError(422, 'provide at least one of the fields: name, language')
    if 'name' in body:
        name = body['name']
        if not is_text(name) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
            raise ApiError(422, 'name must be a non-empty string of at most %d characters' % MAX_NAME_LENGTH)
    if 'language' in body:
        if not isinstance(body['language'], str) or not LANGUAGE_RE.fullmatch(body['language']):
            raise ApiError(422, 'language must be a BCP 47 tag such as en-US or hi-IN')
    return body


def validate_route_fields(body):
    check_fields(body, ('phone_number', 'route_type', 'agent_id'), ('phone_number', 'route_type', 'agent_id'))
    if not isinstance(body['phone_number'], str) or not E164_RE.fullmatch(body['phone_number']):
        raise ApiError(422, 'phone_number must be an E.164 number such as +19499800001')
    if body['route_type'] != 'ai_agent':
        raise ApiError(422, 'route_type must be "ai_agent"')
    if not is_text(body['agent_id']) or not body['agent_id']:
        raise ApiError(422, 'agent_id must be a non-empty string')
    return body


def validate_number_field(body):
    """The number of a buy or release body, {"number": "+1..."}."""
    check_fields(body, ('number',), ('number',))
    if not isinstance(body['number'], str) or not E164_RE.fullmatch(body['number']):
        raise ApiError(422, 'number must be an E.164 number such as +19499800001')
    return body['number']


# ------------------------------------------------------------------- cursors

def encode_cursor(kind, seq):
    return base64.urlsafe_b64encode(('%s:%d' % (kind, seq)).encode('ascii')).decode('ascii').rstrip('=')


def decode_cursor(kind, cursor):
    """The sequence number a cursor continues after; 400 for anything this list did not issue."""
    try:
        padded = cursor + '=' * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b'-_', validate=True).decode('ascii')
        cursor_kind, _colon, seq = text.partition(':')
        if cursor_kind == kind and SEQ_RE.fullmatch(seq):
            return int(seq)
    except ValueError:  # bad base64 (binascii.Error) or bad ASCII
        pass
    raise ApiError(400, 'cursor is not valid for this list')


def page_window(request, kind, cap):
    """(after, size) for a list request, from ?limit= and ?cursor=."""
    limit_text = request.param('limit')
    limit = DEFAULT_PAGE_SIZE
    if limit_text is not None:
        if not LIMIT_RE.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
            raise ApiError(400, 'limit must be an integer from 1 to %d' % MAX_PAGE_SIZE)
        limit = int(limit_text)
    cursor = request.param('cursor')
    after = decode_cursor(kind, cursor) if cursor else 0
    return after, min(limit, cap) if cap else limit


def page_payload(items, kind, next_seq):
    return {'data': items, 'next_cursor': None if next_seq is None else encode_cursor(kind, next_seq)}


# ------------------------------------------------------------------ endpoints

class PiopiyApi:
    """The /v1 endpoints: authentication, routing to a handler, and the handlers."""

    ENDPOINTS = {
        ('ai-agents', False): {'GET': 'list_agents', 'POST': 'create_agent'},
        ('ai-agents', True): {'GET': 'get_agent', 'PATCH': 'update_agent', 'DELETE': 'delete_agent'},
        ('phone-number-routing', False): {'GET': 'list_routes', 'POST': 'upsert_route'},
        ('phone-number-routing', True): {'GET': 'get_route', 'DELETE': 'delete_route'},
        ('purchased-phone-numbers', False): {'GET': 'list_numbers'},
        ('list-available-numbers', False): {'GET': 'list_available'},
        ('buy-phone-number', False): {'POST': 'buy_number'},
        ('release-phone-number', False): {'POST': 'release_number'},
    }

    def __init__(self, store, faults, profile='extended'):
        self.store = store
        self.faults = faults
        self.profile = profile

    def dispatch(self, request):
        """(reply, workspace id or None) for one API request; never raises."""
        workspace = None
        try:
            if request.body_error:
                raise request.body_error
            handler_name, ident = self._resolve(request)
            workspace, read_only = self._authenticate(request)
            if read_only and request.method in WRITE_METHODS:
                raise ApiError(403, 'this API key is read-only')
            return getattr(self, handler_name)(request, workspace, ident), workspace
        except ApiError as error:
            return error.reply(), workspace
        except Exception:  # pylint: disable=broad-exception-caught
            # Last line of defence: a bug must still answer JSON and keep the server up.
            return ApiError(500, 'unexpected emulator error').reply(), workspace

    def _resolve(self, request):
        """(handler name, decoded path id or None), or 404/405."""
        parts = request.raw_path[len(API_PREFIX):].split('/') if request.raw_path.startswith(API_PREFIX) else []
        if len(parts) == 1 or (len(parts) == 2 and parts[1]):
            endpoint = (parts[0], len(parts) == 2)
            methods = self.ENDPOINTS.get(endpoint)
            if methods and self.profile == 'published':
                # As a server without the unpublished calls: a read of one is an unknown path, a write an unknown method.
                methods = dict((method, handler) for method, handler in methods.items() if (endpoint, method) not in UNPUBLISHED_CALLS)
                if (endpoint, request.method) in UNPUBLISHED_CALLS:
                    if request.method not in WRITE_METHODS:
                        raise ApiError(404, 'no such endpoint: %s' % request.raw_path)
                    raise ApiError(405, 'method %s is not allowed here' % request.method, {'Allow': ', '.join(sorted(methods))})
            if methods:
                if request.method not in methods:
                    raise ApiError(405, 'method %s is not allowed here' % request.method, {'Allow': ', '.join(sorted(methods))})
                missing = self.faults.snapshot()['release_call_status'] if parts[0] == 'release-phone-number' else None
                if missing:
                    raise ApiError(missing, 'no such call here: %s %s' % (request.method, request.raw_path))
                # unquote, not unquote_plus: a literal "+" in a path is a plus sign, not a space.
                return methods[request.method], unquote(parts[1]) if len(parts) == 2 else None
        raise ApiError(404, 'no such endpoint: %s' % request.raw_path)

    def _authenticate(self, request):
        scheme, _space, key = (request.headers.get('Authorization') or '').partition(' ')
        if scheme.lower() != 'bearer' or not key.strip():
            raise ApiError(401, 'missing or malformed Authorization header; expected "Bearer <API key>"')
        owner = self.store.key_owner(key.strip())
        if owner is None:
            raise ApiError(401, 'the API key is not valid')
        return owner

    def _page_window(self, request, kind):
        return page_window(request, kind, self.faults.snapshot()['page_size_cap'])

    # agents

    def list_agents(self, request, workspace, _ident):
        after, size = self._page_window(request, 'agents')
        rows, next_seq = self.store.agent_page(workspace, after, size)
        include_language = self.faults.snapshot()['list_includes_language']
        return Reply(200, page_payload([agent_view(row, include_language) for row in rows], 'agents', next_seq))

    def create_agent(self, request, workspace, _ident):
        fields = validate_agent_fields(parse_json_object(request.body), partial=False)
        return Reply(201, self.store.create_agent(workspace, fields['name'], fields['language'], twin=self.faults.take_twin()))

    def get_agent(self, _request, workspace, agent_id):
        return Reply(200, self.store.get_agent(workspace, agent_id))

    def update_agent(self, request, workspace, agent_id):
        changes = validate_agent_fields(parse_json_object(request.body), partial=True)
        return Reply(200, self.store.update_agent(workspace, agent_id, changes))

    def delete_agent(self, _request, workspace, agent_id):
        self.store.delete_agent(workspace, agent_id)
        return Reply(200, {'id': agent_id, 'status': 'deleted'})

    # routes and numbers

    def list_routes(self, request, workspace, _ident):
        after, size = self._page_window(request, 'routes')
        rows, next_seq = self.store.route_page(workspace, request.param('agent_id'), after, size)
        return Reply(200, page_payload([route_view(row) for row in rows], 'routes', next_seq))

    def upsert_route(self, request, workspace, _ident):
        fields = validate_route_fields(parse_json_object(request.body))
        created = self.store.upsert_route(workspace, fields['phone_number'], fields['agent_id'])
        return Reply(201 if created else 200, route_view(fields))

    def get_route(self, _request, workspace, phone_number):
        return Reply(200, self.store.get_route(workspace, phone_number))

    def delete_route(self, _request, workspace, phone_number):
        self.store.delete_route(workspace, phone_number)
        return Reply(200, {'phone_number': phone_number, 'status': 'disconnected'})

    def list_numbers(self, request, workspace, _ident):
        after, size = self._page_window(request, 'numbers')
        rows, next_seq = self.store.number_page(workspace, after, size)
        return Reply(200, page_payload([number_view(row) for row in rows], 'numbers', next_seq))

    # buying and releasing numbers

    def list_available(self, request, _workspace, _ident):
        region = request.param('region')
        if not region or not REGION_RE.fullmatch(region):
            raise ApiError(400, 'region is required: a two-letter region such as US')
        after, size = self._page_window(request, 'available-' + region.upper())
        rows, next_seq = self.store.available_page(region.upper(), after, size)
        return Reply(200, page_payload([available_view(row) for row in rows], 'available-' + region.upper(), next_seq))

    def buy_number(self, request, workspace, _ident):
        return Reply(201, self.store.buy_number(workspace, validate_number_field(parse_json_object(request.body))))

    def release_number(self, request, workspace, _ident):
        return Reply(200, self.store.release_number(workspace, validate_number_field(parse_json_object(request.body))))


class AdminApi:
    """The loopback-only /__emulator__/ endpoints that tests use to inspect and steer the emulator."""

    ENDPOINTS = {
        'requests': {'GET': 'get_requests', 'DELETE': 'clear_requests'},
        'reset': {'POST': 'reset'},
        'faults': {'GET': 'get_faults', 'PUT': 'put_faults'},
        'state': {'GET': 'get_state'},
        'tokens': {'GET': 'get_tokens'},
        'profile': {'GET': 'get_profile', 'PUT': 'put_profile'},
    }

    def __init__(self, emulator):
        self.emulator = emulator

    def dispatch(self, request):
        try:
            if request.body_error:
                raise request.body_error
            methods = self.ENDPOINTS.get(request.raw_path[len(ADMIN_PREFIX):])
            if methods is None:
                raise ApiError(404, 'no such emulator endpoint: %s' % request.raw_path)
            if request.method not in methods:
                raise ApiError(405, 'method %s is not allowed here' % request.method, {'Allow': ', '.join(sorted(methods))})
            return getattr(self, methods[request.method])(request)
        except ApiError as error:
            return error.reply()
        except Exception:  # pylint: disable=broad-exception-caught
            # Same safety net as the API: answer JSON, keep serving.
            return ApiError(500, 'unexpected emulator error').reply()

    def get_requests(self, _request):
        return Reply(200, self.emulator.request_log.summary())

    def clear_requests(self, _request):
        self.emulator.request_log.clear()
        return Reply(200, self.emulator.request_log.summary())

    def reset(self, _request):
        self.emulator.reset()
        return Reply(200, {'status': 'reset'})

    def get_faults(self, _request):
        return Reply(200, self.emulator.faults.snapshot())

    def put_faults(self, request):
        self.emulator.faults.replace(parse_json_object(request.body))
        return Reply(200, self.emulator.faults.snapshot())

    def get_state(self, _request):
        return Reply(200, self.emulator.store.dump_state())

    def get_tokens(self, _request):
        return Reply(200, {'tokens': self.emulator.store.issued_tokens()})

    def get_profile(self, _request):
        return Reply(200, {'profile': self.emulator.api.profile})

    def put_profile(self, request):
        body = parse_json_object(request.body)
        if set(body) != {'profile'} or body['profile'] not in PROFILES:
            raise ApiError(400, 'the body must be {"profile": P} with P one of %s' % ', '.join(PROFILES))
        self.emulator.api.profile = body['profile']
        return Reply(200, {'profile': self.emulator.api.profile})


class Emulator:
    """Ties storage, faults and logs together; the HTTP handler only does I/O."""

    def __init__(self, store, seed, access_log, profile='extended'):
        self.store = store
        self.seed = seed
        self.access_log = access_log
        self.profile = profile  # the profile it started with, which a reset restores
        self.faults = Faults()
        self.request_log = RequestLog()
        self.api = PiopiyApi(store, self.faults, profile)
        self.admin = AdminApi(self)

    def reset(self):
        self.store.load_seed(self.seed, wipe_world=True)
        self.faults.replace({})
        self.request_log.clear()
        self.api.profile = self.profile

    def handle_api(self, request, client):
        """Answer an API request: latency, then injected errors, then the real endpoint."""
        settings = self.faults.snapshot()
        if settings['latency_ms']:
            time.sleep(settings['latency_ms'] / 1000.0)
        workspace = None
        injected = self.faults.pick_error(request.method, request.raw_path)
        redirect = None if injected else self.faults.take_redirect(request.method, request.raw_path)
        if injected:
            reply = injected.reply()  # decided before the endpoint runs, so nothing changes
        elif redirect:
            target = redirect.rstrip('/') + request.raw_path[len(API_PREFIX) - 1:] + ('?' + request.query if request.query else '')
            reply = Reply(307, {'error': {'code': 'redirect', 'message': 'moved'}}, {'Location': target})
        else:
            reply, workspace = self.api.dispatch(request)
            reply.dropped = self.faults.should_drop(request.method, request.raw_path)
            odd = None if reply.dropped or reply.status >= 300 else self.faults.take_odd_body(request.method, request.raw_path)
            if odd:
                reply.make_odd(odd)  # the request was handled: a write was applied, only its answer is odd
        if settings['echo_auth_in_errors'] and reply.status >= 400 and 'error' in reply.payload:
            reply.payload['error']['message'] += ' (Authorization: %s)' % (request.headers.get('Authorization') or '')
        if settings['errors_as_text'] and reply.status >= 400 and 'error' in reply.payload:
            # As a proxy in front of an API may answer: the message as UTF-8 text, with no charset a client could read.
            reply.body, reply.content_type = reply.payload['error']['message'].encode('utf-8'), 'text/plain'
        status = 0 if reply.dropped else reply.status
        self.request_log.add(request, status, workspace)
        target = request.raw_path + ('?' + request.query if request.query else '')
        self.access_log.write('%s "%s %s" %s %s' % (client, request.method, target, status, workspace or '-'))
        return reply


# ----------------------------------------------------------------------- HTTP

def is_loopback(host):
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses."""
    try:
        address = ipaddress.ip_address(host.split('%', 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, 'ipv4_mapped', None)
    return (mapped or address).is_loopback


class EmulatorHandler(BaseHTTPRequestHandler):
    """Reads a request, lets the Emulator answer it, writes the reply (or drops the connection)."""

    protocol_version = 'HTTP/1.1'  # keep-alive: clients reuse connections
    server_version = 'PiopiyEmulator/1.0'
    timeout = 60  # a client that stalls mid-request must not hold a thread forever

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACKs
        # would add ~40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self):
        request_id = 'req_' + secrets.token_hex(8)
        try:
            request = self._read_request()
            emulator = self.server.emulator
            if request.raw_path.startswith(ADMIN_PREFIX) and is_loopback(self.client_address[0]):
                reply = emulator.admin.dispatch(request)
            else:
                reply = emulator.handle_api(request, self.client_address[0])
            if reply.dropped:
                self._drop_connection()
            else:
                self._send(reply, request_id)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away; nothing left to answer

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_request(self):
        try:
            body = self._read_body()
        except ApiError as error:
            return Request(self.command, self.path, self.headers, b'', error)
        return Request(self.command, self.path, self.headers, body)

    def _read_body(self):
        if self.headers.get('Transfer-Encoding'):
            self.close_connection = True
            raise ApiError(400, 'chunked request bodies are not supported; send Content-Length')
        length_text = (self.headers.get('Content-Length') or '0').strip()
        if not LENGTH_RE.fullmatch(length_text):
            self.close_connection = True
            raise ApiError(400, 'Content-Length is not a valid length')
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._discard(length)
            raise ApiError(413, 'request body is larger than %d bytes' % MAX_BODY_BYTES)
        return self.rfile.read(length)

    def _discard(self, length):
        if length > MAX_DISCARD_BYTES:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _send(self, reply, request_id):
        data = json.dumps(reply.payload).encode('ascii') if reply.body is None else reply.body
        self.send_response(reply.status)
        self.send_header('Content-Type', reply.content_type)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('X-Request-Id', request_id)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def _drop_connection(self):
        """Close without answering, as a lost connection would look to the client."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone

    def send_error(self, code, message=None, explain=None):
        """Protocol-level errors (unknown method, bad request line) also get the JSON error body."""
        if code == 501:  # http.server's answer to a method it has no do_ handler for
            code, message = 405, 'method %s is not allowed' % self.command
        self.close_connection = True
        if self.request_version == 'HTTP/0.9':
            # http.server skips the status line for what it takes as HTTP/0.9; garbage deserves a parseable answer.
            self.request_version = self.protocol_version
        self._send(ApiError(code, message or explain or 'bad request').reply(), 'req_' + secrets.token_hex(8))

    def version_string(self):
        return self.server_version

    def log_request(self, code='-', size='-'):
        """Requests are logged by the Emulator, which knows about faults and workspaces."""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.emulator.access_log.write('%s %s' % (self.client_address[0], format % args))


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    # A client opens up to 64 connections at once (parallel_requests); socketserver's default backlog of 5 would make
    # the kernel drop some of them and the client see resets the real API never gives.
    request_queue_size = 128

    def __init__(self, address, emulator):
        if ':' in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        super().__init__(address, EmulatorHandler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup of the host, which can stall; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        self.emulator.access_log.write('%s connection error: %r' % (client_address[0], sys.exc_info()[1]))


# ----------------------------------------------------------------------- main

def parse_args(argv):
    parser = argparse.ArgumentParser(description='Local emulator of the Piopiy AI Agents API.')
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=0, help='port to listen on; 0 picks a free one')
    parser.add_argument('--db', required=True, help='sqlite file that keeps agents and routes between runs')
    parser.add_argument('--seed', default=DEFAULT_SEED, help='YAML or JSON seed with workspaces, keys and numbers')
    parser.add_argument('--reset', action='store_true', help='drop all agents and routes before starting')
    parser.add_argument('--log-file', help='append an access log to this file')
    parser.add_argument('--api-profile', choices=PROFILES, default='extended',
                        help='extended (default: every call of the contract) or published (only the calls Piopiy publishes; '
                             'the others answer 404 or 405)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        seed = load_seed(args.seed)
    except (OSError, ValueError) as error:  # SeedError and parse errors are ValueErrors
        sys.stderr.write('piopiy_emulator: cannot load seed %s: %s\n' % (args.seed, error))
        return 2
    try:
        store = Store(args.db)
        store.load_seed(seed, wipe_world=args.reset)
    except sqlite3.Error as error:
        sys.stderr.write('piopiy_emulator: cannot use database %s: %s\n' % (args.db, error))
        return 2
    try:
        access_log = AccessLog(args.log_file)
        server = EmulatorServer((args.host, args.port), Emulator(store, seed, access_log, args.api_profile))
    except OSError as error:  # log file not writable, address in use or not local
        sys.stderr.write('piopiy_emulator: cannot start: %s\n' % error)
        return 2
    serve_until_signalled(server, args.host)
    store.close()
    access_log.close()
    return 0


def serve_until_signalled(server, host):
    """Print the URL line, then serve until SIGTERM or SIGINT."""
    def stop(_signum, _frame):
        # shutdown() waits for serve_forever() to return, so it must not run on the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url_host = '[%s]' % host if ':' in host else host
    print('PIOPIY_EMULATOR_URL=http://%s:%d' % (url_host, server.server_address[1]), flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()


if __name__ == '__main__':
    sys.exit(main())
