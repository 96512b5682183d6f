"""Signed pixel URLs: who may say, through a GIF anyone can request, which lead this is or what it did.

With write keys set, an unsigned pixel records page views and e-mail opens of anonymous
visitors only. A hit that names a lead (``uid``, ``userId``, ``email``) or a track event
(``t=track``) must carry ``kid`` (a source of ``LEADSTREAM_COLLECTOR_PIXEL_KEYS``) and ``sig``:
the lowercase hex HMAC-SHA256, keyed with that source's secret, of the canonical query. The
canonical query is every parameter but ``sig``, each name and value percent-encoded (RFC 3986:
everything but ``A-Z a-z 0-9 - _ . ~``), as ``name=value`` pairs sorted by name then value and
joined with ``&``. An optional ``exp`` (Unix seconds) ends the URL's validity. The e-mail tool or
page server that builds the URL holds the key; the browser only ever sees the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote

from streams.collector.write_keys import WriteKeys

SIGNATURE, KEY_ID, EXPIRES = "sig", "kid", "exp"
IDENTITY_PARAMETERS = ("uid", "userId", "email")
TRACK_KINDS = ("track",)


def _encoded(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encoded(name)}={_encoded(value)}" for name, value in sorted(
        (name, value) for name, value in pairs if name != SIGNATURE))


def signature(secret: str, pairs: Iterable[tuple[str, str]]) -> str:
    return hmac.new(secret.encode(), canonical_query(pairs).encode(), hashlib.sha256).hexdigest()


def needs_signature(pairs: list[tuple[str, str]]) -> bool:
    """A hit that claims an identity or a track event; page views and opens of anonymous visitors do not."""
    kind = next((value.strip().lower() for name, value in pairs if name in ("t", "type")), "page")
    return kind in TRACK_KINDS or any(name in IDENTITY_PARAMETERS and value.strip() for name, value in pairs)


def signed_by(keys: WriteKeys, pairs: list[tuple[str, str]], now: float) -> str | None:
    """The source whose key signed this query (and whose ``exp`` has not passed), else None."""
    values = dict(pairs)
    secret = keys.secret_of(values.get(KEY_ID))
    offered = values.get(SIGNATURE, "")
    if secret is None or not hmac.compare_digest(offered.lower().encode(), signature(secret, pairs).encode()):
        return None
    expires = values.get(EXPIRES)
    if expires is not None and not (expires.isdigit() and int(expires) > now):
        return None
    return values[KEY_ID]
