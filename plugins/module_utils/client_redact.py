# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a credential looks like in text, and how to take it out: the one redaction of the collection.

The HTTP client scrubs every message it builds from an answer with it, and the callbacks (audit, plan) scrub
everything they write with it, as a last line of defence on the controller.

A key travels in more forms than the one the user typed: an API that echoes the Authorization header puts it in a
JSON string (where `"`, `\\` and non-ASCII characters are escaped), in a URL (percent-encoded), or in a text/plain body
that the client decodes as latin-1 although it was sent as UTF-8 (mojibake). Every one of those forms of a known
secret is removed, whole, before the patterns run, so that a pattern never cuts a secret in two and leaves half of it
(a key with a colon used to print as `Bearer ********:Zq9f...`).
"""

from __future__ import annotations

import functools
import html
import json
import re
from urllib.parse import quote, quote_plus

MASK = '********'

# After `Bearer `, everything up to the next white space is the credential (a key may hold any printable character: a
# colon, a quote, a backslash, and a callback does not know the key a task was given), except closing punctuation
# that ends it, as in `(Authorization: Bearer ...)`. `<` starts a placeholder such as `Bearer <API key>` in a message
# that explains the header, which is not a credential.
_BEARER = re.compile(r'(Bearer\s+)(?!<)\S*[^\s)\]}>"\',.;]', re.IGNORECASE)
_AGENT_TOKEN = re.compile(r'\bagt_[A-Za-z0-9_\-]+')
_API_KEY_SHAPE = re.compile(r'\bpk_(?:live|test)_[A-Za-z0-9_\-]+')
_UNICODE_ESCAPE = re.compile(r'\\u([0-9a-f]{4})')


def _redecoded(text, sent_as, read_as):
    """text encoded one way and decoded another, as a client that guessed the wrong charset shows it; None if impossible."""
    try:
        return text.encode(sent_as).decode(read_as)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def _encodings(text):
    """The forms one step of encoding can give text."""
    as_json = json.dumps(text)[1:-1]
    yield as_json                                                              # \" \\ \u00e9
    yield _UNICODE_ESCAPE.sub(lambda match: '\\u' + match.group(1).upper(), as_json)  # \u00E9
    yield json.dumps(text, ensure_ascii=False)[1:-1]                           # \" \\ é
    yield as_json.replace('/', '\\/')                                          # \/ as some encoders write it
    yield quote(text, safe='')
    yield quote(text)
    yield quote_plus(text)
    yield html.escape(text)
    yield _redecoded(text, 'utf-8', 'latin-1')                                 # é -> Ã©: UTF-8 bytes read as latin-1
    yield _redecoded(text, 'utf-8', 'cp1252')
    yield _redecoded(text, 'latin-1', 'utf-8')                                 # latin-1 bytes read as UTF-8


@functools.lru_cache(maxsize=64)
def secret_forms(secret):
    """Every form of secret that text may hold (raw, escaped, encoded, re-decoded, and those of each other), longest first."""
    forms = {secret}
    for unused_depth in range(2):  # a form of a form: the JSON escape of a mojibake, the URL encoding of a JSON escape
        forms.update(form for known in list(forms) for form in _encodings(known) if form)
    return tuple(sorted(forms, key=lambda form: (-len(form), form)))


def redact(text, secrets=()):
    """text without the given secrets in any of their forms, bearer credentials, agent tokens, or anything shaped like an API key."""
    text = str(text)
    for secret in secrets:
        if secret:
            for form in secret_forms(str(secret)):
                text = text.replace(form, MASK)
    text = _BEARER.sub(r'\1' + MASK, text)
    return _API_KEY_SHAPE.sub('pk_' + MASK, _AGENT_TOKEN.sub('agt_' + MASK, text))


def redact_data(value, secrets=()):
    """value with every string in it redacted, at any depth; dicts, lists and tuples keep their keys and order."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return dict((key, redact_data(item, secrets)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [redact_data(item, secrets) for item in value]
    return value
