# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The HTTPS path of the client against a local TLS server with a certificate made for the test: checked by default,
trusted through REQUESTS_CA_BUNDLE, or not checked with validate_certs=false."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.piopiy.voice.plugins.module_utils.client_api import ConfigurationError, PiopiyClient

ACME_KEY = 'pk_test_acme_0001'


def self_signed(directory):
    """A key and a certificate for 127.0.0.1, valid for a day, written as PEM files: (certificate path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'piopiy-voice-test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    certificate_path, key_path = directory / 'server.pem', directory / 'server.key'
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return certificate_path, key_path


class EmptyList(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):  # pylint: disable=invalid-name
        body = json.dumps({'data': [], 'next_cursor': None}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 that answers an empty list: (its API base, the path of its certificate)."""
    certificate, key = self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), EmptyList)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certificate), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'https://127.0.0.1:%d/v1' % server.server_address[1], certificate
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_ca_bundle(monkeypatch):
    for name in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'https_proxy', 'HTTPS_PROXY'):
        monkeypatch.delenv(name, raising=False)


def test_a_certificate_that_does_not_verify_fails_at_once_naming_the_fix(tls_server, no_ca_bundle, sleeps):
    api_base, unused = tls_server
    client = PiopiyClient(ACME_KEY, api_base, timeout=10, sleep=sleeps)

    with pytest.raises(ConfigurationError) as error:
        client.list_agents()

    assert 'does not verify' in str(error.value) and 'REQUESTS_CA_BUNDLE' in str(error.value)
    assert sleeps.calls == []  # not retried: the same certificate would fail again


def test_a_ca_bundle_named_by_the_environment_is_trusted(tls_server, no_ca_bundle, sleeps, monkeypatch):
    api_base, certificate = tls_server
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', str(certificate))
    client = PiopiyClient(ACME_KEY, api_base, timeout=10, sleep=sleeps)

    assert client.list_agents() == [] and client.list_agents() == []  # the second on the kept-alive connection
    client.close()


def test_validate_certs_false_reaches_a_server_whose_certificate_does_not_verify(tls_server, no_ca_bundle, sleeps):
    api_base, unused = tls_server
    client = PiopiyClient(ACME_KEY, api_base, timeout=10, validate_certs=False, sleep=sleeps)

    assert client.list_agents() == []
    client.close()
