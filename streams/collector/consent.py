"""Privacy by default: a hit that says Do-Not-Track or withholds consent leaves nothing behind.

It is answered exactly as any other (the GIF, a 200, the redirect), so a page behaves the same
for everyone, but no cookie is set, no event is produced, and only a counter moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.contracts.segment import has_consent

_NO = frozenset({"0", "false", "no", "off", "denied"})


def request_consents(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """The browser's Do-Not-Track or Global Privacy Control header, or ``consent=false`` / ``dnt=1`` in the query."""
    if headers.get("DNT", "").strip() == "1" or headers.get("Sec-GPC", "").strip() == "1":
        return False
    if query.get("dnt", "").strip().lower() in ("1", "true", "yes"):
        return False
    return query.get("consent", "").strip().lower() not in _NO


def event_consents(message: Mapping[str, Any]) -> bool:
    """The Segment message's own context.dnt / consent=false (as the worker reads them)."""
    context, properties = message.get("context"), message.get("properties")
    return has_consent(context if isinstance(context, dict) else {}, properties if isinstance(properties, dict) else {})
