"""Write keys: an optional shared secret per source, so strangers cannot inject events.

Sent the way Segment's libraries send theirs (HTTP basic auth, the key as the user name and an
empty password), or as ``writeKey`` in the body or the query string where a browser cannot set
a header (sendBeacon, an HTML form). The pixel needs none: a GIF URL is public anyway.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.config.variables import refuse_placeholder
from streams.errors import ConfigError

_SOURCE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_SECRET_LENGTH = 8
SIGNING_KEY_LENGTH = 32  # a pixel signing key never leaves the server that signs: no reason for a short one


@dataclass(frozen=True)
class WriteKeys:
    secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (source, secret)

    @property
    def required(self) -> bool:
        return bool(self.secrets)

    def source_of(self, key: str | None) -> str | None:
        """The source whose secret ``key`` is, compared in constant time; None for no match."""
        if not key:
            return None
        found = None
        for source, secret in self.secrets:
            if hmac.compare_digest(secret.encode(), key.encode()):
                found = source
        return found

    def secret_of(self, source: str | None) -> str | None:
        return next((secret for name, secret in self.secrets if name == source), None)


def parse_write_keys(raw: str, variable: str, min_length: int = MIN_SECRET_LENGTH) -> WriteKeys:
    """``source:secret,source:secret``; an empty value means no key is required."""
    pairs: list[tuple[str, str]] = []
    for number, entry in enumerate(filter(None, (part.strip() for part in raw.split(","))), start=1):
        source, separator, secret = entry.partition(":")
        if not separator or not _SOURCE.fullmatch(source.strip()):
            # Never echo the entry: it may be a secret missing its "source:".
            raise ConfigError(f"{variable}: entry {number} is not source:secret (source: letters, digits, _ . -)")
        refuse_placeholder(f"{variable} ({source.strip()!r})", secret)
        if len(secret.strip()) < min_length:
            raise ConfigError(f"{variable}: the secret of {source.strip()!r} is shorter than {min_length} characters")
        pairs.append((source.strip(), secret.strip()))
    if len({source for source, _ in pairs}) != len(pairs) or len({secret for _, secret in pairs}) != len(pairs):
        raise ConfigError(f"{variable}: every source and every secret must appear once")
    return WriteKeys(tuple(pairs))


def basic_auth_key(header: str | None) -> str | None:
    """The write key in ``Authorization: Basic base64(key:)`` (Segment's libraries send it so)."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user or password or None


def presented_key(headers: Mapping[str, str], query: Mapping[str, str], body: Any = None) -> str | None:
    """The write key a request presents: basic auth, else ``writeKey`` in the body, else in the query."""
    if (key := basic_auth_key(headers.get("Authorization"))) is not None:
        return key
    if isinstance(body, Mapping) and isinstance(body.get("writeKey"), str):
        return body["writeKey"]
    return query.get("writeKey") or None
