# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""HTTP for the API client: one kept-alive connection per thread, the proxy and CA bundle read once, typed failures.

Private to the collection: client_api is its only user. It knows sockets, not endpoints.

Python's own http.client, not requests: a workspace plan sends thousands of requests from one process, and requests
spent about 3 ms of CPU on each (it scans the environment for proxies and reads ~/.netrc on every request, and
builds its request and answer in several layers), against under 1 ms here. It also means the modules need nothing
beyond the Python that runs them.

What requests did that users rely on is kept, read once when the transport is made: the proxy of the environment
(https_proxy, http_proxy, all_proxy, no_proxy; only http:// proxies), and the CA bundle named by
REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else the system's, plus certifi's when it is installed. validate_certs=false
turns certificate checks off whatever those variables say. ~/.netrc is never read: the API key is the only credential.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

CA_BUNDLE_VARIABLES = ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')

# How far a request got when it failed: not sent (no connection was made, so any request may be sent again), or sent
# (the server may have acted on it). A setup failure is not sent and no retry can fix it.
UNUSABLE_URL = 'unusable_url'
UNUSABLE_PROXY = 'unusable_proxy'
UNUSABLE_HEADER = 'unusable_header'
TLS_SETUP = 'tls_setup'
NO_ADDRESS = 'no_address'
REFUSED = 'refused'
CONNECT_TIMEOUT = 'connect_timeout'
READ_TIMEOUT = 'read_timeout'
LOST = 'lost'
SETUP_FAILURES = frozenset((UNUSABLE_URL, UNUSABLE_PROXY, UNUSABLE_HEADER, TLS_SETUP))
NOT_SENT = SETUP_FAILURES | {NO_ADDRESS, REFUSED, CONNECT_TIMEOUT}


class TransportFailure(Exception):
    """No answer. kind: one of the names above; detail: what happened, with no secret in it (never a URL's credentials)."""

    def __init__(self, kind, detail):
        super().__init__('%s: %s' % (kind, detail))
        self.kind = kind
        self.detail = detail

    @property
    def sent(self):
        """The request may have reached the server: a write may have been applied."""
        return self.kind not in NOT_SENT


@dataclass(frozen=True)
class HttpAnswer:
    """One answer: status, reason, headers (looked up by any case of the name) and the whole body."""

    status_code: int
    reason: str
    body: bytes
    headers: dict = field(default_factory=dict)

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def content(self):
        return self.body

    @property
    def text(self):
        return self.body.decode('utf-8', 'replace')

    def json(self):
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Proxy:
    """An http:// proxy: where to connect, and the Proxy-Authorization header when its URL has credentials."""

    host: str
    port: int
    authorization: str = None


@dataclass(frozen=True)
class Origin:
    """The API's scheme, host and port, and the path its calls are under."""

    scheme: str
    host: str
    port: int
    base_path: str


def origin_of(api_base):
    """The Origin of api_base; TransportFailure(UNUSABLE_URL) when it is not an http(s) URL with a host."""
    try:
        parts = urlsplit(api_base)
        port = parts.port
    except ValueError as error:
        raise TransportFailure(UNUSABLE_URL, str(error)) from None
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise TransportFailure(UNUSABLE_URL, 'not an http(s) URL with a host')
    return Origin(parts.scheme, parts.hostname, port or (443 if parts.scheme == 'https' else 80), parts.path.rstrip('/'))


def proxy_for(origin, proxies=None, bypass=proxy_bypass):
    """The Proxy to reach origin through, from the environment (proxies: getproxies()), or None for a direct connection."""
    proxies = getproxies() if proxies is None else proxies
    variable = origin.scheme if proxies.get(origin.scheme) else 'all'  # all_proxy, as requests and curl read it
    url = proxies.get(variable)
    if not url or bypass(origin.host if origin.port in (80, 443) else '%s:%d' % (origin.host, origin.port)):
        return None
    parts = urlsplit(url if '://' in url else 'http://' + url)
    try:
        port = parts.port or 80
    except ValueError:
        port = None
    if parts.scheme != 'http' or not parts.hostname or port is None:
        # Said without the URL, which may hold a password.
        raise TransportFailure(UNUSABLE_PROXY, 'the %s_proxy variable is not an http:// proxy URL with a host; only http:// '
                                               'proxies are supported' % variable)
    authorization = None
    if parts.username is not None:
        credentials = '%s:%s' % (unquote(parts.username), unquote(parts.password or ''))
        authorization = 'Basic ' + base64.b64encode(credentials.encode('utf-8')).decode('ascii')
    return Proxy(parts.hostname, port, authorization)


def tls_context(validate_certs, environ=None, certifi_bundle=None):
    """The TLS context of every connection: the system's CAs, a bundle named by the environment, or no checks at all."""
    if not validate_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    environ = os.environ if environ is None else environ
    named = [(name, environ[name]) for name in CA_BUNDLE_VARIABLES if environ.get(name)]
    try:
        if named:
            name, path = named[0]
            return _context_from_bundle(name, path)
        context = ssl.create_default_context()
        bundle = certifi_bundle() if certifi_bundle else _certifi_bundle()
        if bundle:
            context.load_verify_locations(cafile=bundle)  # as requests did: a system with no CA store still verifies
        return context
    except (OSError, ssl.SSLError) as error:
        raise TransportFailure(TLS_SETUP, 'the CA bundle cannot be read (%s)' % (error.strerror or error)) from None


def _context_from_bundle(name, path):
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as error:
        raise TransportFailure(TLS_SETUP, '%s names %s, which cannot be read as a CA bundle (%s)'
                                          % (name, path, getattr(error, 'strerror', None) or error)) from None


def _certifi_bundle():
    try:
        import certifi  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return certifi.where()


class HttpTransport:
    """Sends requests to one API origin, each thread on its own kept-alive connection."""

    def __init__(self, api_base, timeout, validate_certs=True, proxies=None, environ=None):
        self.timeout = timeout
        self._setup_failure = None
        self.origin = self.proxy = self.tls = None
        self._connections = set()  # every open connection, so that close() reaches the other threads' too
        self._lock = threading.Lock()
        self._local = threading.local()
        try:
            self.origin = origin_of(api_base)
            self.proxy = proxy_for(self.origin, proxies)
            self.tls = tls_context(validate_certs, environ) if self.origin.scheme == 'https' else None
        except TransportFailure as failure:
            self._setup_failure = failure  # told by the first request, as a failure of that call

    def send(self, method, path, headers, body=None):
        """The HttpAnswer to method on path (under api_base, with its query); TransportFailure when there is none."""
        if self._setup_failure is not None:
            raise self._setup_failure
        connection = self._connection()
        target = self.origin.base_path + path
        if self.proxy is not None and self.origin.scheme == 'http':
            target = 'http://%s:%d%s' % (self.origin.host, self.origin.port, target)  # a proxy is asked for the whole URL
            if self.proxy.authorization:
                headers = dict(headers, **{'Proxy-Authorization': self.proxy.authorization})
        try:
            connection.request(method, target, body=body, headers=headers)
        except UnicodeEncodeError:
            self._discard(connection)
            raise TransportFailure(UNUSABLE_HEADER, 'a header value cannot be sent') from None
        except (OSError, http.client.HTTPException) as error:
            self._discard(connection)
            raise _failure_while_sending(error) from None
        try:
            response = connection.getresponse()
            answer = HttpAnswer(response.status, response.reason or '', response.read(),
                                {name.lower(): value for name, value in response.getheaders()})
        except (OSError, http.client.HTTPException) as error:
            self._discard(connection)
            kind = READ_TIMEOUT if isinstance(error, socket.timeout) else LOST
            raise TransportFailure(kind, _describe(error)) from None
        if response.will_close:
            self._discard(connection)
        return answer

    def close(self):
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            connection.close()

    def _connection(self):
        """This thread's connection, made (and connected) now when it has none or the server closed it while idle."""
        connection = getattr(self._local, 'connection', None)
        if connection is not None and _closed_by_peer(connection):
            self._discard(connection)
            connection = None
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            with self._lock:
                self._connections.add(connection)
        return connection

    def _connect(self):
        """A new connection, connected: failures here are certainly before the request was sent."""
        host, port = (self.proxy.host, self.proxy.port) if self.proxy else (self.origin.host, self.origin.port)
        if self.origin.scheme == 'https':
            connection = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.tls)
            if self.proxy:
                tunnel_headers = {'Proxy-Authorization': self.proxy.authorization} if self.proxy.authorization else None
                connection.set_tunnel(self.origin.host, self.origin.port, headers=tunnel_headers)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            connection.connect()
        except socket.gaierror as error:
            raise TransportFailure(NO_ADDRESS, _describe(error)) from None
        except ssl.SSLCertVerificationError as error:
            # A certificate that does not verify will not verify on the next attempt either: said at once.
            connection.close()
            raise TransportFailure(TLS_SETUP, 'the certificate of %s does not verify (%s)'
                                              % (self.origin.host, error.verify_message or error.reason or error)) from None
        except socket.timeout:
            connection.close()
            raise TransportFailure(CONNECT_TIMEOUT, 'no connection within %s s' % self.timeout) from None
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise TransportFailure(REFUSED, _describe(error)) from None
        return connection

    def _discard(self, connection):
        connection.close()
        if getattr(self._local, 'connection', None) is connection:
            self._local.connection = None
        with self._lock:
            self._connections.discard(connection)


def _closed_by_peer(connection):
    """Whether an idle kept-alive connection was closed by the server: it is then readable (at its end) before any request."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        if hasattr(select, 'poll'):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _failure_while_sending(error):
    """A failure while the request was being written: some of it may have reached the server."""
    if isinstance(error, socket.timeout):
        return TransportFailure(READ_TIMEOUT, 'timed out while sending')
    return TransportFailure(LOST, _describe(error))


def _describe(error):
    """The error's class and reason, without any address or URL that could carry credentials."""
    reason = getattr(error, 'strerror', None) or (str(error) if not isinstance(error, http.client.HTTPException) else '')
    return '%s%s' % (type(error).__name__, ': %s' % reason if reason else '')
