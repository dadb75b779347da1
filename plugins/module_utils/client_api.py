# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Piopiy API client: the only place in the collection that knows endpoints.

Everything about URLs, pages, retries and answers lives here, so a difference
found against the live service is fixed in this file (and in the emulator),
never in a module. The client holds the collection's one retry policy: every
request has one budget of attempts, and nothing above the client loops.

An answer is data only when it has the API's shape. An empty body, an HTML
page or a bare array answered with a 2xx status is never read as "no agents"
or "no route": a read retries it and then fails, a write is treated as
ambiguous (it may or may not have been applied).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import threading
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

# The collection's one redaction (client_redact), used here on every message built from an answer.
from ansible_collections.piopiy.voice.plugins.module_utils.client_redact import redact

from ansible_collections.piopiy.voice.plugins.module_utils import client_http
from ansible_collections.piopiy.voice.plugins.module_utils.client_capabilities import MISSING_STATUSES, Capabilities, MissingCall


DEFAULT_API_BASE = 'https://api.piopiy.com/v1'
ROUTE_TYPE = 'ai_agent'

AGENTS = '/ai-agents'
ROUTES = '/phone-number-routing'
PURCHASED_NUMBERS = '/purchased-phone-numbers'
AVAILABLE_NUMBERS = '/list-available-numbers'
BUY_NUMBER = '/buy-phone-number'
# [ext] Piopiy's "Numbers" page says numbers can be released, but its release call is not in the text we have: this
# shape (POST with {"number"}) is the assumption, kept here alone. An API without it answers 404, 405 or 501.
RELEASE_NUMBER = '/release-phone-number'
COLLECTIONS = (AGENTS, ROUTES, PURCHASED_NUMBERS, AVAILABLE_NUMBERS)

# The calls Piopiy does not publish, by the names every message uses. A live account may not have them: the client
# learns which (client_capabilities) and raises MissingCallError for them.
GET_AGENT = 'GET /ai-agents/{id}'
UPDATE_AGENT = 'PATCH /ai-agents/{id}'
LIST_ROUTES = 'GET /phone-number-routing'
GET_ROUTE = 'GET /phone-number-routing/{phone_number}'
DELETE_ROUTE = 'DELETE /phone-number-routing/{phone_number}'
UNPUBLISHED_CALLS = (GET_AGENT, UPDATE_AGENT, LIST_ROUTES, GET_ROUTE, DELETE_ROUTE)
PUBLISHED_WORKS = ('the published calls still work: create, list and delete agents, map a number (POST /phone-number-routing), '
                   'list purchased numbers')

PAGE_LIMIT = 100
MAX_ATTEMPTS = 5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 60.0
# The contract lists 500 as transient too; a POST is never resent on a 5xx without a read-back.
RETRYABLE_STATUSES = frozenset((429, 500, 502, 503, 504))
IDEMPOTENT_METHODS = frozenset(('GET', 'PATCH', 'DELETE'))

_HINTS = {
    401: 'check api_key / PIOPIY_API_KEY',
    403: 'the API key is not allowed to do this: use a key with write access to the workspace',
    429: 'the API is still rate limiting after retries: try again later or lower the request rate',
}
_BASE_HINT = ('check api_base / PIOPIY_API_BASE: it must be the API root including its version path, '
              'such as %s' % DEFAULT_API_BASE)


def agent_path(agent_id):
    return '%s/%s' % (AGENTS, quote(str(agent_id), safe=''))


def route_path(phone_number):
    # quote() with safe='' turns the leading '+' into %2B, as the API expects.
    return '%s/%s' % (ROUTES, quote(phone_number, safe=''))


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


def api_base_problem(api_base):
    """Why api_base cannot be used, or None: no retry can fix a URL without a scheme or a host. Never quotes a user name or
    password the URL holds."""
    parts = urlsplit(api_base or '')
    if '@' in parts.netloc:
        # The API key is the only credential: a user and password in the URL would be ignored, and shown in messages.
        return ('api_base holds a user name or password (user:password@ before its host): the API takes only the API key, '
                'so remove them from api_base (%s)' % without_credentials(api_base))
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return ('api_base %r is not an http(s) URL: use the API root with its scheme and version path, such as %s'
                % (api_base, DEFAULT_API_BASE))
    return None


def without_credentials(url):
    """url with any user name and password before its host left out."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition('@')[2], parts.path, parts.query, parts.fragment))


def api_key_problem(api_key):
    """Why api_key cannot be sent, or None; never quotes the key."""
    if api_key != api_key.strip():
        return ('api_key starts or ends with a space or a newline (often left by reading it from a file): '
                'strip it, for example with "{{ lookup(\'file\', path) | trim }}"')
    if any(character.isspace() or not character.isprintable() for character in api_key):
        return 'api_key contains spaces or control characters: check the value you set'
    unsendable = sorted(set(character for character in api_key if ord(character) > 0xFF))
    if unsendable:
        # An HTTP header carries latin-1 at most: sending it would fail with a UnicodeEncodeError that names no option.
        return ('api_key contains %s, which an HTTP header cannot carry (often a typographic quote or apostrophe that a word '
                'processor or chat app put in place of the one in the key): copy the key again from the Piopiy dashboard'
                % ', '.join('U+%04X %s' % (ord(character), unicodedata.name(character, 'a character')) for character in unsendable))
    return None


class PiopiyAPIError(Exception):
    """A failed API call: method, path, HTTP status (None when no answer), the API's code and message, request id."""

    def __init__(self, method, path, status=None, code=None, message=None, request_id=None, attempts=1, hint=None):
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.attempts = attempts
        self.hint = hint or _HINTS.get(status)
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
        if self.hint:
            text += ': %s' % self.hint
        if self.request_id:
            text += ' [request %s]' % self.request_id
        return text

    def facts(self):
        """The fields a task failure returns beside its message, so a rescue can test them."""
        return {'status': self.status, 'error_code': self.code, 'request_id': self.request_id}


class MissingCallError(PiopiyAPIError):
    """A call this API does not have (one Piopiy does not publish), as distinct from an object that does not exist.

    call: its name, such as PATCH /ai-agents/{id}; reason: how that is known (the answer that told, or api_profile).
    """

    def __init__(self, missing, status=None, code=None, request_id=None, attempts=1):
        self.call = missing.call
        self.reason = missing.reason
        self.advice = None  # what to do instead, set by the feature that needed the call; else what still works
        method, _space, path = missing.call.partition(' ')
        super().__init__(method, path, status=status, code=code, request_id=request_id, attempts=attempts)

    def describe(self):
        text = ('%s is not available on this API (%s): it is one of the calls Piopiy does not publish; %s'
                % (self.call, self.reason, self.advice or PUBLISHED_WORKS))
        if self.request_id:
            text += ' [request %s]' % self.request_id
        return text

    def __str__(self):
        return self.describe()  # the advice may be set after the error is made

    def facts(self):
        return dict(super().facts(), missing_call=self.call)


class AmbiguousWriteError(PiopiyAPIError):
    """A write failed so that the API may or may not have applied it (timeout, dropped connection, 5xx, odd answer).

    Only a read-back can tell what happened. `answered` is True when the API did answer success,
    with an answer that lacks what it must carry.
    """

    def __init__(self, *args, **kwargs):
        self.answered = kwargs.pop('answered', False)
        super().__init__(*args, **kwargs)


class ConfigurationError(PiopiyAPIError):
    """A request that no retry can fix, because of a connection option: a URL that is not one, a host with no address."""


class Settled:
    """What a read-back after an ambiguous write found.

    applied: the write took effect, and resource is the resource as it now is. Not applied: it
    certainly did not, so it may be sent again. conflict: the read-back cannot tell, and says why.
    """

    def __init__(self, applied, resource=None, conflict=None):
        self.applied = applied
        self.resource = resource
        self.conflict = conflict

    @classmethod
    def not_applied(cls):
        return cls(False)

    @classmethod
    def undecided(cls, why):
        return cls(False, conflict=why)


class PiopiyClient:
    """One client per module run: its kept-alive connections, pages, the retry policy and typed errors."""

    def __init__(self, api_key, api_base=DEFAULT_API_BASE, timeout=30.0, validate_certs=True, sleep=time.sleep,
                 max_requests_per_second=0, rate_limited_attempts=MAX_ATTEMPTS, capabilities=None):
        self.api_key = api_key
        # Which calls the API has (client_capabilities); without one, every call is tried, as a full API has them.
        self.capabilities = capabilities or Capabilities('extended', UNPUBLISHED_CALLS)
        self._answered = False  # some call on this base answered success: a 404 is then never a wrong api_base
        # A cap on the requests this client starts per second, over all its threads (0: none), and the attempts a
        # request may make while the API keeps answering 429: a fleet run slows down under a rate limit, never fails.
        self.min_request_interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self.rate_limited_attempts = max(rate_limited_attempts, MAX_ATTEMPTS)
        self._next_request_at = 0.0
        self.api_base = api_base.rstrip('/')
        self.timeout = timeout
        # The proxy and CA bundle of the environment are read once, here (client_http); validate_certs=false wins over them.
        self.transport = client_http.HttpTransport(self.api_base, timeout, validate_certs)
        self._sleep = sleep
        self._pause_lock = threading.Lock()
        self._resume_at = 0.0
        self.headers = {
            'Authorization': 'Bearer %s' % api_key,
            'Accept': 'application/json',
            'User-Agent': 'piopiy.voice-ansible',
        }

    def close(self):
        """Close every kept-alive connection of this client."""
        self.transport.close()

    # ---- agents ----

    def list_agents(self):
        return self.walk(AGENTS)

    def get_agent(self, agent_id):
        """The agent, or None when the API says there is no such agent (404); MissingCallError when the API has no such call."""
        return self._get_or_none(agent_path(agent_id), GET_AGENT, agent_id=agent_id)

    def create_agent(self, name, language, settle=None):
        """Create an agent; its answer must carry the id, else the write is settled like a lost answer."""
        return self.request('POST', AGENTS, body={'name': name, 'language': language}, settle=settle, expect=('id',))

    def update_agent(self, agent_id, changes):
        with self._call(UPDATE_AGENT, agent_id=agent_id):
            return self.request('PATCH', agent_path(agent_id), body=changes)

    def delete_agent(self, agent_id):
        return self._delete(agent_path(agent_id))

    # ---- routes and numbers ----

    def list_routes(self, agent_id=None):
        with self._call(LIST_ROUTES, is_list=True):
            return self.walk(ROUTES, {'agent_id': agent_id} if agent_id else None)

    def get_route(self, phone_number):
        """The number's route, or None when the API says the number has no route (404)."""
        return self._get_or_none(route_path(phone_number), GET_ROUTE)

    def set_route(self, phone_number, agent_id, settle=None):
        body = {'phone_number': phone_number, 'route_type': ROUTE_TYPE, 'agent_id': agent_id}
        return self.request('POST', ROUTES, body=body, settle=settle)

    def delete_route(self, phone_number):
        with self._call(DELETE_ROUTE):
            return self._delete(route_path(phone_number))

    def list_purchased_numbers(self, until=None):
        return self.walk(PURCHASED_NUMBERS, until=until)

    # ---- which calls the API has ----

    @contextlib.contextmanager
    def _call(self, call, is_list=False, agent_id=None):
        """One use of an unpublished call: never sent when it is known missing; an answer that says it is missing is learned.

        The rules (auto profile): a 404, 405 or 501 to a list is a missing call, once another call on this base has answered
        (else a published list is asked, once, to tell a missing call from a wrong api_base). A 405 or 501 to a method on an
        object is a missing call; a 404 is one when the object is in its list all the same (agent_id: the agent's list is read
        to tell), else it is about the object. A call that answered success once is never missing.
        """
        known = self.capabilities.lacks(call)
        if known:
            raise MissingCallError(known)
        try:
            yield
        except MissingCallError:
            raise
        except PiopiyAPIError as error:
            missing = self._missing_call(call, error, is_list, agent_id)
            if missing is None:
                raise
            raise MissingCallError(missing, status=error.status, code=error.code, request_id=error.request_id,
                                   attempts=error.attempts) from None
        self.capabilities.answered(call)

    def _missing_call(self, call, error, is_list, agent_id):
        """The MissingCall that the error shows, learned for the rest of the run; None when it is about something else."""
        capabilities = self.capabilities
        if error.status not in MISSING_STATUSES or not capabilities.learns or capabilities.has_answered(call):
            return None
        if error.status == 404 and not is_list and (agent_id is None or not self._agent_listed(agent_id)):
            return None
        if is_list and not self._answered and not self._published_list_answers():
            return None
        return capabilities.learn(call, 'the API answered %d%s to it, while its published calls answer'
                                  % (error.status, ' ' + error.code if error.code else ''))

    def _agent_listed(self, agent_id):
        """Whether the agent is in the agents' list, read now: then a 404 for it is about the call, not the agent."""
        try:
            return any(item.get('id') == agent_id for item in self.walk(AGENTS))
        except PiopiyAPIError:
            return False

    def _published_list_answers(self):
        """One page of a published list: does the base answer at all (a missing call), or not (a wrong api_base)?"""
        try:
            self.request('GET', AGENTS, params={'limit': 1})
        except PiopiyAPIError:
            return False
        return True

    # ---- buying and releasing numbers ----

    def available_numbers_page(self, region, cursor=None, limit=PAGE_LIMIT):
        """One page of the numbers for sale in a region ([doc] call): a ListPage, whose next_cursor is None on the last page."""
        params = {'region': region, 'limit': min(max(int(limit), 1), PAGE_LIMIT)}
        if cursor:
            params['cursor'] = cursor
        return self._page(AVAILABLE_NUMBERS, params)

    def buy_number(self, number, settle=None):
        """Buy a number: a create, never resent blindly. A lost answer is settled by `settle` (a read of the purchased list).

        A 404 or 409 means the number is not for sale (any more). After an earlier attempt whose answer was lost, it may be
        that attempt that bought it: settle tells.
        """
        try:
            return self.request('POST', BUY_NUMBER, body={'number': number}, settle=settle, expect=('number',))
        except PiopiyAPIError as error:
            if error.status not in (404, 409) or isinstance(error, AmbiguousWriteError):
                raise
            if error.attempts > 1 and settle is not None:
                settled = self._read_back(error, settle)
                if settled.applied:
                    return settled.resource
            raise PiopiyAPIError(error.method, error.path, status=error.status, code=error.code, message=error.message,
                                 request_id=error.request_id, attempts=error.attempts,
                                 hint='%s is not for sale (any more): search again and pin another number' % number) from None

    def release_number(self, number, settle=None):
        """Release a purchased number ([ext] call, RELEASE_NUMBER). MissingCallError when the API has no release call."""
        try:
            return self.request('POST', RELEASE_NUMBER, body={'number': number}, settle=settle)
        except AmbiguousWriteError:
            raise
        except PiopiyAPIError as error:
            if error.status == 404 and settle is not None and self._read_back(error, settle).applied:
                return {}  # no longer purchased: an earlier attempt whose answer was lost, or another run, released it
            if error.status in MISSING_STATUSES:
                missing = MissingCallError(
                    MissingCall('POST %s' % RELEASE_NUMBER, 'it answered %d: this API has no call to release a number, and its '
                                                            'shape is the collection\'s assumption' % error.status),
                    status=error.status, code=error.code, request_id=error.request_id, attempts=error.attempts)
                missing.advice = ('nothing was released: searching, buying and listing numbers still work; release %s in the '
                                  'Piopiy dashboard' % number)
                raise missing from None
            raise

    # ---- transport ----

    def walk(self, path, params=None, until=None):
        """Every item of a paged list, following next_cursor to the last page.

        until: a test of each page's items, after the page; once it is true, the walk stops there (a caller that looks
        for some items needs no more pages once it has them all). It sees one page at a time, so that a search through a
        long list costs one look at each item rather than one at every item so far on every page.
        """
        params = dict(params or {}, limit=PAGE_LIMIT)
        items, seen = [], set()
        while True:
            page = self._page(path, params)
            items.extend(page.items)
            cursor = page.next_cursor
            if not cursor or (until is not None and until(page.items)):
                return items
            if cursor in seen:
                raise PiopiyAPIError('GET', path, message='the API returned page cursor %r twice; stopped to avoid looping forever' % cursor)
            seen.add(cursor)
            params['cursor'] = cursor

    def _page(self, path, params):
        """One page of a list, checked: its items and the cursor of the next page (None on the last)."""
        page = self.request('GET', path, params=params)
        data = page.get('data')
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise PiopiyAPIError('GET', path, message='the answer has no "data" list of objects, so it is not a page of this list')
        return ListPage(data, page.get('next_cursor') or None)

    def request(self, method, path, params=None, body=None, settle=None, expect=()):
        """Send one call within one budget of attempts; returns the answer, a JSON object ({} for a write answered without a body).

        What is retried: any failure of a call that certainly did not reach the API or was refused
        before it was applied (429), and the transient failures of idempotent calls. A POST that may
        have been applied is resent only when `settle`, a read-back, says it certainly was not; when
        settle finds it applied, its answer is what settle read. `expect` names fields a write's
        answer must carry: a success without them is settled like a lost answer, never resent blindly.
        """
        attempt = 0
        while True:
            attempt += 1
            self._wait_for_shared_pause()
            self._wait_for_rate_cap()
            try:
                return self._send(method, path, params, body, attempt, expect)
            except _Retry as retry:
                self._sleep(retry.delay)
            except AmbiguousWriteError as error:
                if settle is None:
                    raise
                settled = self._read_back(error, settle)
                if settled.applied:
                    return settled.resource
                if settled.conflict:
                    raise AmbiguousWriteError(method, path, status=error.status, request_id=error.request_id, attempts=attempt,
                                              message=settled.conflict) from None
                if error.answered or attempt >= MAX_ATTEMPTS:
                    why = ('the API answered success but a read-back cannot find what it made: it is not sent again, so that '
                           'it can never be made twice' if error.answered else 'a read-back found it not applied')
                    raise PiopiyAPIError(method, path, status=error.status, code=error.code, request_id=error.request_id,
                                         attempts=attempt, message='%s; %s' % (error.message, why)) from None
                self._sleep(self._backoff(attempt))

    @staticmethod
    def _read_back(error, settle):
        """What settle found; when the read-back itself fails, the write stays ambiguous, and the error says both."""
        try:
            return settle()
        except PiopiyAPIError as read_error:
            raise AmbiguousWriteError(error.method, error.path, status=error.status, code=error.code, request_id=error.request_id,
                                      attempts=error.attempts,
                                      message='%s; the read-back to tell whether it was applied failed too: %s'
                                              % (error.message, read_error)) from None

    def _send(self, method, path, params, body, attempt, expect=()):
        """One attempt: the answer, or _Retry, or a typed error."""
        headers = self.headers
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            headers = dict(headers, **{'Content-Type': 'application/json'})
        try:
            response = self.transport.send(method, path + ('?' + urlencode(params) if params else ''), headers, data)
        except client_http.TransportFailure as failure:
            raise self._transport_failure(method, path, failure, attempt) from None
        if 300 <= response.status_code < 400:
            raise self._redirect_error(method, path, response, attempt)
        if response.status_code >= 300:
            if self._may_retry(method, response.status_code, attempt):
                raise _Retry(self._retry_delay(response, attempt))
            raise self._api_error(method, path, response, attempt)
        answer = _decode_object(response)
        if answer is None and method != 'GET' and not response.content:
            answer = {}  # any 2xx is success, and a write may answer it without a body
        if answer is not None:
            self._answered = True
            missing = [field for field in expect if not answer.get(field)]
            if missing:
                raise AmbiguousWriteError(method, path, status=response.status_code, answered=True, attempts=attempt,
                                          request_id=response.header('X-Request-Id'),
                                          message='answered %d without the %s it must carry' % (response.status_code, ', '.join(missing)))
            return answer
        # A 2xx that is not the API's JSON: a proxy's page or a truncated body. Nothing here can be read as data.
        reason = 'answered %d with %s, not the JSON object the API sends' % (response.status_code, _describe_body(response))
        if method in IDEMPOTENT_METHODS and attempt < MAX_ATTEMPTS:
            raise _Retry(self._backoff(attempt))
        error_class = AmbiguousWriteError if method != 'GET' else PiopiyAPIError
        raise error_class(method, path, status=response.status_code, message=reason,
                          request_id=response.header('X-Request-Id'), attempts=attempt)

    def _transport_failure(self, method, path, failure, attempt):
        """_Retry for a failure worth another attempt, else the typed error to raise."""
        kind = failure.kind
        if kind == client_http.UNUSABLE_URL:
            return ConfigurationError(method, path, message='api_base %s is not a usable URL (%s)' % (self.api_base, failure.detail),
                                      hint=_BASE_HINT, attempts=attempt)
        if kind == client_http.UNUSABLE_PROXY:
            return ConfigurationError(method, path, message=failure.detail, hint='check https_proxy, http_proxy and no_proxy',
                                      attempts=attempt)
        if kind == client_http.UNUSABLE_HEADER:
            return ConfigurationError(method, path, message='the API key cannot be sent in a header',
                                      hint=api_key_problem(self.api_key) or 'check api_key / PIOPIY_API_KEY', attempts=attempt)
        if kind == client_http.TLS_SETUP:
            return ConfigurationError(method, path, message=self.redact(failure.detail), attempts=attempt,
                                      hint='check validate_certs, and the CA bundle that REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE names')
        if kind == client_http.NO_ADDRESS:
            host = urlsplit(self.api_base).hostname
            return ConfigurationError(method, path, message='the host %s of api_base %s has no address (DNS lookup failed)'
                                      % (host, self.api_base), hint='check api_base / PIOPIY_API_BASE', attempts=attempt)
        if (method != 'POST' or not failure.sent) and attempt < MAX_ATTEMPTS:
            return _Retry(self._backoff(attempt))
        reason = '%s, %s after %d attempt(s)' % (self.api_base, _TRANSPORT_REASONS.get(kind, kind + ' (%s)') % failure.detail, attempt)
        error_class = AmbiguousWriteError if method == 'POST' and failure.sent else PiopiyAPIError
        hint = 'check api_base / PIOPIY_API_BASE and that the API is reachable' if not failure.sent else None
        return error_class(method, path, message=self.redact(reason), attempts=attempt, hint=hint)

    def _redirect_error(self, method, path, response, attempt):
        target = response.header('Location') or 'nowhere'
        return PiopiyAPIError(method, path, status=response.status_code, attempts=attempt,
                              message='the API answered a redirect to %s, which is not followed: the API key is never sent '
                                      'to another address' % self.redact(target),
                              hint=_BASE_HINT, request_id=response.header('X-Request-Id'))

    def redact(self, text):
        return redact(text, (self.api_key,))

    def _may_retry(self, method, status, attempt):
        budget = self.rate_limited_attempts if status == 429 else MAX_ATTEMPTS
        if attempt >= budget or status not in RETRYABLE_STATUSES:
            return False
        # A 429 is refused before it is applied; a 5xx on a POST may have been applied, so it is not resent blindly.
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

    def _wait_for_rate_cap(self):
        """Spaces the starts of requests by min_request_interval, whichever thread sends them."""
        if not self.min_request_interval:
            return
        with self._pause_lock:
            now = time.monotonic()
            start = max(now, self._next_request_at)
            self._next_request_at = start + self.min_request_interval
        if start > now:
            self._sleep(start - now)

    def _get_or_none(self, path, call, agent_id=None):
        try:
            with self._call(call, agent_id=agent_id):
                return self.request('GET', path)
        except MissingCallError:
            raise
        except PiopiyAPIError as exc:
            if exc.status == 404 and exc.code == 'not_found':
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
        code, message = _error_fields(response, self.redact)
        error_class = AmbiguousWriteError if method == 'POST' and response.status_code >= 500 else PiopiyAPIError
        hint = None
        if response.status_code == 404 and path in COLLECTIONS and not self._answered:
            # A list is missing and nothing on this base has answered: the base URL is likely wrong, not the resource.
            hint = _BASE_HINT + ' (now %s)' % self.api_base
        return error_class(
            method, path, status=response.status_code, code=code,
            message=self.redact(message) if message else None,
            request_id=response.header('X-Request-Id'), attempts=attempt, hint=hint,
        )


@dataclass(frozen=True)
class ListPage:
    """One page of a list: its items (objects), and the cursor that asks for the next page, None on the last."""

    items: list
    next_cursor: object = None


class _Retry(Exception):
    """Raised inside one attempt to ask the loop for another after `delay` seconds."""

    def __init__(self, delay):
        super().__init__(delay)
        self.delay = delay


def _decode_object(response):
    """The body as a JSON object, or None when it is empty, not JSON, or JSON of another shape."""
    try:
        value = response.json() if response.content else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _describe_body(response):
    if not response.content:
        return 'an empty body'
    try:
        value = response.json()
    except ValueError:
        kind = (response.header('Content-Type') or 'unknown type').split(';')[0]
        return 'a body that is not JSON (%s)' % kind
    return 'a JSON %s' % type(value).__name__.replace('dict', 'object').replace('list', 'array')


def _error_fields(response, redact_text):
    """The API's error code and message; copes with an empty or non-JSON body, redacted before it is cut short, so that
    no part of a secret survives the cut."""
    try:
        error = response.json().get('error') or {}
        return error.get('code'), error.get('message')
    except (ValueError, AttributeError):
        text = redact_text(response.text).strip()[:200]
        return None, text or response.reason


def _retry_after_seconds(response):
    value = response.header('Retry-After')
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP)
    except (TypeError, ValueError):
        return None


# What an error says of a failure with no answer, by how far the request got (client_http's kinds).
_TRANSPORT_REASONS = {
    client_http.REFUSED: 'connection refused or host unreachable (%s)',
    client_http.CONNECT_TIMEOUT: 'no connection within the timeout (%s)',
    client_http.READ_TIMEOUT: 'timed out waiting for the answer (%s)',
    client_http.LOST: 'connection lost before an answer (%s)',
}
