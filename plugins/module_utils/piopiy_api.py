# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Piopiy API client: the only place in the collection that knows endpoints.

Everything about URLs, pages, retries and error bodies lives here, so a
difference found against the live service is fixed in this file (and in the
emulator), never in a module.
"""

from __future__ import annotations

import ipaddress
import random
import re
import threading
import time
import traceback
from urllib.parse import quote, urlsplit

try:
    import requests
    from urllib3.exceptions import NewConnectionError
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None


DEFAULT_API_BASE = 'https://api.piopiy.com/v1'
ROUTE_TYPE = 'ai_agent'
E164 = re.compile(r'^\+[1-9]\d{7,14}$')

AGENTS = '/ai-agents'
ROUTES = '/phone-number-routing'
PURCHASED_NUMBERS = '/purchased-phone-numbers'

PAGE_LIMIT = 100
MAX_ATTEMPTS = 5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 60.0
RETRYABLE_STATUSES = frozenset((429, 502, 503, 504))

_BEARER = re.compile(r'(Bearer\s+)[A-Za-z0-9._~+/=-]+', re.IGNORECASE)
_AGENT_TOKEN = re.compile(r'\bagt_[A-Za-z0-9_\-]+')
_API_KEY_SHAPE = re.compile(r'\bpk_(?:live|test)_[A-Za-z0-9_\-]+')
_HINTS = {
    401: 'check api_key / PIOPIY_API_KEY',
    403: 'the API key is not allowed to do this: use a key with write access to the workspace',
    429: 'the API is still rate limiting after retries: try again later or lower the request rate',
}


def agent_path(agent_id):
    return '%s/%s' % (AGENTS, quote(str(agent_id), safe=''))


def route_path(phone_number):
    # quote() with safe='' turns the leading '+' into %2B, as the API expects.
    return '%s/%s' % (ROUTES, quote(phone_number, safe=''))


def redact(text, secrets=()):
    """Remove bearer credentials, agent tokens, anything shaped like an API key, and the given secrets from text."""
    text = _BEARER.sub(r'\1********', str(text))
    text = _API_KEY_SHAPE.sub('pk_********', _AGENT_TOKEN.sub('agt_********', text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, '********')
    return text


def is_loopback_host(host):
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_transport_warning(api_base):
    """A warning text when the key would travel unencrypted to another host, else None."""
    parts = urlsplit(api_base)
    if parts.scheme == 'http' and not is_loopback_host(parts.hostname or ''):
        return ('api_base %s uses plain http:// to a host that is not loopback: '
                'the API key is sent unencrypted. Use https://.' % api_base)
    return None


class PiopiyAPIError(Exception):
    """A failed API call: method, path, HTTP status (None when no answer), the API's code and message, request id."""

    def __init__(self, method, path, status=None, code=None, message=None, request_id=None, attempts=1):
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.attempts = attempts
        super().__init__(self.describe())

    def describe(self):
        status = 'no answer' if self.status is None else str(self.status)
        if self.code:
            status += ' ' + self.code
        text = '%s %s failed (%s)' % (self.method, self.path, status)
        if self.status == 401:
            text = 'API key rejected (401)'
        if self.message:
            text += ': %s' % self.message
        hint = _HINTS.get(self.status)
        if hint:
            text += ': %s' % hint
        if self.request_id:
            text += ' [request %s]' % self.request_id
        return text


class AmbiguousWriteError(PiopiyAPIError):
    """A POST failed so that the API may or may not have applied it (timeout, dropped connection, 5xx).

    The caller must look at the server again before it writes again.
    """


class PiopiyClient:
    """One HTTP session per module run, with pages, retries and typed errors."""

    def __init__(self, api_key, api_base=DEFAULT_API_BASE, timeout=30.0, validate_certs=True, pool_size=16, sleep=time.sleep):
        self.api_key = api_key
        self.api_base = api_base.rstrip('/')
        self.timeout = timeout
        self._sleep = sleep
        self._pause_lock = threading.Lock()
        self._resume_at = 0.0
        self.session = requests.Session()
        self.session.verify = validate_certs
        self.session.headers.update({
            'Authorization': 'Bearer %s' % api_key,
            'Accept': 'application/json',
            'User-Agent': 'piopiy.voice-ansible',
        })
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount('http://', adapter)
        self.session.mount('https://', adapter)

    # ---- agents ----

    def list_agents(self):
        return self.walk(AGENTS)

    def get_agent(self, agent_id):
        return self._get_or_none(agent_path(agent_id))

    def agents_named(self, name):
        """Every agent with exactly this name: the API does not keep names unique."""
        return [agent for agent in self.list_agents() if agent.get('name') == name]

    def complete_agent(self, item):
        """An agent list item with its language: list items may leave it out, and then only the agent itself tells it.

        None when the agent was deleted in between.
        """
        return item if 'language' in item else self.get_agent(item['id'])

    def create_agent(self, name, language):
        """Create an agent; after an ambiguous failure, adopt the agent if the API did make it.

        The caller guarantees no agent had this name before, so an agent found
        by name after an ambiguous POST is ours. Its token is then lost: the
        answer carrying it never arrived, and the result says so.
        """
        body = {'name': name, 'language': language}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self.request('POST', AGENTS, body=body)
            except AmbiguousWriteError:
                if attempt == MAX_ATTEMPTS:
                    raise
            made = self.agents_named(name)
            if made:
                return dict(made[0], language=language, agent_token=None)
            self._sleep(self._backoff(attempt))
        raise AssertionError('unreachable')  # pragma: no cover

    def update_agent(self, agent_id, changes):
        return self.request('PATCH', agent_path(agent_id), body=changes)

    def delete_agent(self, agent_id):
        return self._delete(agent_path(agent_id))

    # ---- routes and numbers ----

    def list_routes(self, agent_id=None):
        return self.walk(ROUTES, {'agent_id': agent_id} if agent_id else None)

    def get_route(self, phone_number):
        return self._get_or_none(route_path(phone_number))

    def set_route(self, phone_number, agent_id):
        """Route a number to an agent; after an ambiguous failure, read the number before writing again."""
        body = {'phone_number': phone_number, 'route_type': ROUTE_TYPE, 'agent_id': agent_id}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self.request('POST', ROUTES, body=body)
            except AmbiguousWriteError:
                if attempt == MAX_ATTEMPTS:
                    raise
            route = self.get_route(phone_number)
            if route and route.get('agent_id') == agent_id:
                return route
            self._sleep(self._backoff(attempt))
        raise AssertionError('unreachable')  # pragma: no cover

    def delete_route(self, phone_number):
        return self._delete(route_path(phone_number))

    def list_purchased_numbers(self):
        return self.walk(PURCHASED_NUMBERS)

    # ---- transport ----

    def walk(self, path, params=None):
        """Every item of a paged list, following next_cursor to the last page."""
        params = dict(params or {}, limit=PAGE_LIMIT)
        items, seen = [], set()
        while True:
            page = self.request('GET', path, params=params)
            items.extend(page.get('data') or [])
            cursor = page.get('next_cursor')
            if not cursor:
                return items
            if cursor in seen:
                raise PiopiyAPIError('GET', path, message='the API returned page cursor %r twice; stopped to avoid looping forever' % cursor)
            seen.add(cursor)
            params['cursor'] = cursor

    def request(self, method, path, params=None, body=None):
        """Send one call, retrying what is safe to retry; returns the decoded JSON answer."""
        attempt = 0
        while True:
            attempt += 1
            self._wait_for_shared_pause()
            try:
                response = self.session.request(method, self.api_base + path, params=params, json=body, timeout=self.timeout)
            except requests.exceptions.RequestException as exc:
                not_sent = _certainly_not_sent(exc)
                if (method != 'POST' or not_sent) and attempt < MAX_ATTEMPTS:
                    self._sleep(self._backoff(attempt))
                    continue
                error_class = AmbiguousWriteError if method == 'POST' and not not_sent else PiopiyAPIError
                raise error_class(method, path, message=self.redact(_transport_reason(exc)), attempts=attempt) from None
            if response.status_code < 300:
                return _json_or_empty(response)
            if self._should_retry(method, response.status_code, attempt):
                self._sleep(self._retry_delay(response, attempt))
                continue
            raise self._api_error(method, path, response, attempt)

    def redact(self, text):
        return redact(text, (self.api_key,))

    def _should_retry(self, method, status, attempt):
        if attempt >= MAX_ATTEMPTS or status not in RETRYABLE_STATUSES:
            return False
        # A 429 is refused before it is applied; a 5xx on a POST may have been applied.
        return method != 'POST' or status == 429

    def _retry_delay(self, response, attempt):
        delay = _retry_after_seconds(response)
        if delay is None:
            delay = self._backoff(attempt)
        if response.status_code == 429:
            # Every thread of this run waits: hammering a rate limit from a pool only prolongs it.
            self._pause_all(delay)
            return 0.0
        return delay

    def _backoff(self, attempt):
        return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))

    def _pause_all(self, seconds):
        with self._pause_lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def _wait_for_shared_pause(self):
        delay = self._resume_at - time.monotonic()
        if delay > 0:
            self._sleep(delay)

    def _get_or_none(self, path):
        try:
            return self.request('GET', path)
        except PiopiyAPIError as exc:
            if exc.status == 404:
                return None
            raise

    def _delete(self, path):
        try:
            return self.request('DELETE', path)
        except PiopiyAPIError as exc:
            # A retried DELETE that finds nothing means an earlier attempt did the work.
            if exc.status == 404 and exc.attempts > 1:
                return {}
            raise

    def _api_error(self, method, path, response, attempt):
        code, message = _error_fields(response)
        error_class = AmbiguousWriteError if method == 'POST' and response.status_code >= 500 else PiopiyAPIError
        return error_class(
            method, path, status=response.status_code, code=code,
            message=self.redact(message) if message else None,
            request_id=response.headers.get('X-Request-Id'), attempts=attempt,
        )


def _json_or_empty(response):
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {}


def _error_fields(response):
    """The API's error code and message; copes with an empty or non-JSON body."""
    try:
        error = response.json().get('error') or {}
        return error.get('code'), error.get('message')
    except (ValueError, AttributeError):
        text = response.text.strip()[:200]
        return None, text or response.reason


def _retry_after_seconds(response):
    value = response.headers.get('Retry-After')
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP)
    except (TypeError, ValueError):
        return None


def _certainly_not_sent(exc):
    """True when the request never reached the server: no connection was made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], 'reason', None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _transport_reason(exc):
    if isinstance(exc, requests.exceptions.Timeout):
        return 'timed out'
    if _certainly_not_sent(exc):
        return 'connection refused or host unreachable'
    return 'connection lost before an answer (%s)' % type(exc).__name__
