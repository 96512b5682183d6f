"""Privacy by default: a hit that says Do-Not-Track or withholds consent leaves nothing behind.

It is answered exactly as any other (the GIF, a 200, the redirect), so a page behaves the same
for everyone, but no cookie is set, no event is produced, and only a counter moves. Under
``LEADSTREAM_CONSENT=opt-in`` the same holds for a hit that carries no yes
(streams/contracts/consent.py says what counts as one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.contracts.consent import ConsentPolicy

_NO = frozenset({"0", "false", "no", "off", "denied"})
CONSENT_GIVEN = frozenset({"1", "true", "yes", "on", "granted"})


def request_consent(headers: Mapping[str, str], query: Mapping[str, str]) -> bool | None:
    """What the request itself says: False for Do-Not-Track, Global Privacy Control, ``consent=false`` or
    ``dnt=1``; True for ``consent=true`` (or 1, yes, granted); None when it says nothing."""
    if headers.get("DNT", "").strip() == "1" or headers.get("Sec-GPC", "").strip() == "1":
        return False
    if query.get("dnt", "").strip().lower() in ("1", "true", "yes"):
        return False
    said = query.get("consent", "").strip().lower()
    return False if said in _NO else True if said in CONSENT_GIVEN else None


def event_consent(message: Mapping[str, Any], policy: ConsentPolicy) -> bool | None:
    """What the Segment message's own context and properties say, as the worker reads them."""
    context, properties = message.get("context"), message.get("properties")
    return policy.said(context if isinstance(context, dict) else {}, properties if isinstance(properties, dict) else {})
