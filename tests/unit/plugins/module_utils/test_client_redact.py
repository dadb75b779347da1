# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's one redaction: every form a secret can take in text, and the patterns of credentials (no HTTP)."""

from __future__ import annotations

import html
import json
from urllib.parse import quote, quote_plus

import pytest

from ansible_collections.piopiy.voice.plugins.module_utils.client_redact import MASK, redact, redact_data, secret_forms

# A key with a colon, characters JSON escapes (" \ é) and a slash: every form below differs from the raw key.
KEY = 'ws_acme:Zq9f"Leak\\Check/caf\u00e9Tail'
# Pieces of the key that must never survive: any of them in the output means a part of the key leaked.
FRAGMENTS = ('ws_acme', 'Zq9f', 'LeakCheck', 'Leak', 'Check', 'Tail')


def forms_of(key):
    return {
        'raw': key,
        'json ascii': json.dumps(key)[1:-1],
        'json utf-8': json.dumps(key, ensure_ascii=False)[1:-1],
        'json upper-case escapes': json.dumps(key)[1:-1].replace('\\u00e9', '\\u00E9'),
        'json escaped slash': json.dumps(key)[1:-1].replace('/', '\\/'),
        'url': quote(key, safe=''),
        'url with slash': quote(key),
        'form': quote_plus(key),
        'html': html.escape(key),
        'utf-8 read as latin-1': key.encode('utf-8').decode('latin-1'),
        'utf-8 read as cp1252': key.encode('utf-8').decode('cp1252'),
        'json of utf-8 read as latin-1': json.dumps(key.encode('utf-8').decode('latin-1'))[1:-1],
        'url of json': quote(json.dumps(key)[1:-1], safe=''),
    }


@pytest.mark.parametrize('form', sorted(forms_of(KEY)))
def test_every_form_of_a_known_key_is_removed_whole(form):
    text = 'error (Authorization: Bearer %s) and again: %s.' % (forms_of(KEY)[form], forms_of(KEY)[form])
    redacted = redact(text, [KEY])
    assert redacted == 'error (Authorization: Bearer %s) and again: %s.' % (MASK, MASK)


@pytest.mark.parametrize('form', sorted(forms_of(KEY)))
def test_after_bearer_no_part_of_an_unknown_key_survives(form):
    """A callback does not know the key a task was given: after `Bearer `, the whole credential goes, colon and all."""
    redacted = redact('401 (Authorization: Bearer %s)' % forms_of(KEY)[form])
    assert not [fragment for fragment in FRAGMENTS if fragment in redacted], redacted
    assert redacted == '401 (Authorization: Bearer %s)' % MASK


def test_a_key_with_a_colon_is_not_cut_at_the_colon():
    key = 'ws_acme:Zq9fSecretTail'
    assert redact('Bearer %s echoed' % key, [key]) == 'Bearer %s echoed' % MASK
    assert redact('Bearer %s echoed' % key) == 'Bearer %s echoed' % MASK
    assert redact('key %s echoed' % key, [key]) == 'key %s echoed' % MASK


def test_a_placeholder_after_bearer_is_not_a_credential():
    text = 'missing or malformed Authorization header; expected "Bearer <API key>"'
    assert redact(text) == text


def test_redact_keeps_patterns_for_tokens_and_key_shapes():
    text = 'key pk_secret, header Bearer pk_secret2, token agt_live_0123abcd, echoed pk_live_A1b2-C3, agent desk_pk_1'
    assert redact(text, ('pk_secret',)) == (
        'key ********, header Bearer ********, token agt_********, echoed pk_********, agent desk_pk_1')


def test_the_forms_of_a_plain_key_are_the_key_itself():
    assert secret_forms('pk_test_acme_0001') == ('pk_test_acme_0001',)
    assert secret_forms(KEY)[0] != KEY and KEY in secret_forms(KEY)  # longest first


def test_redact_data_reaches_nested_values():
    value = {'msg': 'key %s rejected' % json.dumps(KEY)[1:-1], 'after': {'tags': ['Bearer abc.def', 7, None, True], 'pair': ('x', KEY)}}
    assert redact_data(value, [KEY]) == {'msg': 'key ******** rejected', 'after': {'tags': ['Bearer ********', 7, None, True], 'pair': ['x', MASK]}}
