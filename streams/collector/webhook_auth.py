"""How the inbound destinations prove who sent them: Segment's signature, RudderStack's shared header.

Segment's "Webhooks (Actions)" destination, given a shared secret, sends ``X-Signature``: the
lower-case hex HMAC-SHA1 of the JSON it posts, keyed with the secret. For one event that JSON is
the whole body. For a batch (a JSON array) Segment's own code signs only the first event's JSON
(``JSON.stringify(payload[0].data)``, as its destination's tests show), so a batch is taken when the
signature covers either the whole body or exactly the bytes of its first element.

RudderStack's webhook destination signs nothing; its settings let a user add headers, so a header
name and secret value of the user's choice, compared in constant time, stand in for a signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.config.variables import refuse_placeholder, text_or_file
from streams.errors import ConfigError

SIGNATURE_HEADER = "X-Signature"
DEFAULT_RUDDERSTACK_HEADER = "X-Leadstream-Secret"
MIN_SHARED_SECRET_LENGTH = 16
SEGMENT_SECRET_VARIABLE = "LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET"
RUDDERSTACK_SECRET_VARIABLE = "LEADSTREAM_COLLECTOR_RUDDERSTACK_SECRET"
RUDDERSTACK_HEADER_VARIABLE = "LEADSTREAM_COLLECTOR_RUDDERSTACK_HEADER"
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_HEX_SHA1 = re.compile(r"[0-9a-fA-F]{40}")
# Why a destination's request was refused (a fixed set: a metric label and the 401's "reason").
NOT_CONFIGURED, MISSING_SIGNATURE, BAD_SIGNATURE = "not_configured", "missing_signature", "bad_signature"
MISSING_SECRET, WRONG_SECRET = "missing_secret", "wrong_secret"
REFUSAL_REASONS = (NOT_CONFIGURED, MISSING_SIGNATURE, BAD_SIGNATURE, MISSING_SECRET, WRONG_SECRET)


@dataclass(frozen=True)
class DestinationSecrets:
    segment: str | None = field(default=None, repr=False)  # the Webhooks (Actions) destination's shared secret
    rudderstack: str | None = field(default=None, repr=False)  # the value RudderStack sends in ``rudderstack_header``
    rudderstack_header: str = DEFAULT_RUDDERSTACK_HEADER


def segment_signature(secret: str, signed: bytes) -> str:
    return hmac.new(secret.encode(), signed, hashlib.sha1).hexdigest()


def first_element(raw: bytes) -> bytes | None:
    """The exact bytes of a JSON array's first element, as sent (None when the body is no such array).

    Segment writes its batch with ``JSON.stringify``: no whitespace, so the first element starts right
    after the ``[`` and its text is the text Segment signed.
    """
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return None
    if not text.startswith("["):
        return None
    try:
        _, end = json.JSONDecoder().raw_decode(text, 1)
    except ValueError:
        return None
    return text[1:end].encode()


def segment_refusal(secret: str | None, raw: bytes, signature: str | None) -> str | None:
    """Why a Segment webhook request is refused, or None when its signature is right."""
    if not secret:
        return NOT_CONFIGURED
    if not signature:
        return MISSING_SIGNATURE
    signature = signature.strip()
    if not _HEX_SHA1.fullmatch(signature):
        return BAD_SIGNATURE
    candidates = [raw]
    if (first := first_element(raw)) is not None:
        candidates.append(first)
    # Every candidate is compared, so the time taken says nothing about which one came close.
    matches = [hmac.compare_digest(segment_signature(secret, signed), signature.lower()) for signed in candidates]
    return None if any(matches) else BAD_SIGNATURE


def rudderstack_refusal(expected: str | None, presented: str | None) -> str | None:
    """Why a RudderStack webhook request is refused, or None when it carries the configured secret."""
    if not expected:
        return NOT_CONFIGURED
    if not presented:
        return MISSING_SECRET
    return None if hmac.compare_digest(expected.encode(), presented.strip().encode()) else WRONG_SECRET


def secret_from(env: Mapping[str, str], variable: str) -> str | None:
    """A secret from ``variable``, or from the file ``variable``_FILE names (a mounted secret), never both."""
    secret = text_or_file(env, variable, f"{variable}_FILE")
    if secret is None:
        return None
    refuse_placeholder(variable, secret)
    if len(secret) < MIN_SHARED_SECRET_LENGTH:
        raise ConfigError(f"{variable}: shorter than {MIN_SHARED_SECRET_LENGTH} characters")
    return secret


def destination_secrets_from(env: Mapping[str, str]) -> DestinationSecrets:
    header = env.get(RUDDERSTACK_HEADER_VARIABLE, DEFAULT_RUDDERSTACK_HEADER).strip() or DEFAULT_RUDDERSTACK_HEADER
    if not _HEADER_NAME.fullmatch(header):
        raise ConfigError(f"{RUDDERSTACK_HEADER_VARIABLE}: expected a header name (letters, digits, -), got {header!r}")
    if header.lower() in {"content-type", "user-agent"}:
        raise ConfigError(f"{RUDDERSTACK_HEADER_VARIABLE}: {header} is set by RudderStack itself; pick another name")
    return DestinationSecrets(segment=secret_from(env, SEGMENT_SECRET_VARIABLE),
                              rudderstack=secret_from(env, RUDDERSTACK_SECRET_VARIABLE), rudderstack_header=header)
