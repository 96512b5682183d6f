"""Decoding inbound Segment-spec messages (page, track, identify, ...) into domain events.

Everything the outside world sends is untrusted: this is the one place that reads raw
bytes, and it either returns a ``LeadEvent`` or a ``Rejection`` naming what was wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import orjson

from scoring import EventType, LeadEvent
from scoring.profile import ALIASES, Scalar, facts_from
from streams.contracts.consent import OPT_OUT, ConsentPolicy

# A sender's clock may run ahead; event times later than this past the broker's receipt are clamped.
MAX_CLOCK_SKEW_S = 300.0
# Length limits (docs/design.md §2): every id becomes a key and is repeated in the records the
# worker writes (a lead's account update, its visitor's link), so an event with a longer id or
# event name is dead-lettered (invalid_field) rather than cut, which would name someone else.
# Attributes are cut instead: at most 64 of them, names to 64 characters, text to 256.
MAX_ID_CHARS = 256
MAX_NAME_CHARS = 256
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_NAME = 64
MAX_ATTRIBUTE_TEXT = 256
_EVENT_TYPES = {event_type.value: event_type for event_type in EventType}


class RejectReason(str, Enum):
    """Why a message was dead-lettered (a fixed set: used as a metric label)."""

    OVERSIZED = "oversized"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_IDENTITY = "missing_identity"
    INVALID_FIELD = "invalid_field"
    UNPROCESSABLE = "unprocessable"  # passed the checks yet failed to process: a bug to report


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    detail: str


class _Invalid(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def decode_segment(raw: bytes, received_at: float, max_bytes: int,
                   consent: ConsentPolicy = OPT_OUT) -> LeadEvent | Rejection:
    """Decode one message; ``received_at`` (the broker's timestamp) stands in for a missing event time.

    ``consent`` decides the event's ``consent`` flag (streams/contracts/consent.py): an event it does
    not allow is decoded all the same, and the scoring core ignores it (``no_consent``).
    """
    if len(raw) > max_bytes:
        return Rejection(RejectReason.OVERSIZED, f"{len(raw)} bytes, limit {max_bytes}")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection(RejectReason.MALFORMED_JSON, str(exc))
    if not isinstance(message, dict):
        return Rejection(RejectReason.NOT_AN_OBJECT, f"top level is {type(message).__name__}")
    try:
        return _event(message, raw, received_at, consent)
    except _Invalid as exc:
        return Rejection(exc.reason, exc.detail)


def _event(message: dict[str, Any], raw: bytes, received_at: float, consent: ConsentPolicy) -> LeadEvent:
    named = message.get("type")
    event_type = _EVENT_TYPES.get(named) if isinstance(named, str) else None
    if event_type is None:
        raise _Invalid(RejectReason.UNKNOWN_TYPE, f"type {named!r}")
    properties = _object(message, "properties")
    traits = _object(message, "traits")
    context = _object(message, "context")
    page_like = event_type in (EventType.PAGE, EventType.SCREEN)
    attributes = _attributes(_about_the_action(event_type, properties), _object(context, "traits"), traits)
    lead_id, anonymous, visitor_id = _identity(message, event_type, attributes)
    occurred_at = min(_event_time(message, received_at), received_at + MAX_CLOCK_SKEW_S)
    return LeadEvent(
        event_id=_identifier(message.get("messageId"), "messageId")
        or "derived:" + hashlib.blake2b(raw, digest_size=16).hexdigest(),
        lead_id=lead_id,
        anonymous=anonymous,
        type=event_type,
        occurred_at=occurred_at,
        name=_track_name(message) if event_type is EventType.TRACK else _optional_text(message, "name"),
        path=_page_path(properties, context) if page_like else None,
        attributes=attributes,
        user_agent=user_agent if isinstance(user_agent := context.get("userAgent"), str) else None,
        consent=consent.allows(context, properties),
        visitor_id=visitor_id if not anonymous else None,
    )


def _object(message: dict[str, Any], field: str) -> dict[str, Any]:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(RejectReason.INVALID_FIELD, f"{field} must be an object, got {type(value).__name__}")
    return value


def _identifier(value: Any, field: str) -> str | None:
    """Segment ids are strings; numeric ids are accepted as their decimal text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(RejectReason.INVALID_FIELD, f"{field} must be a string, got {type(value).__name__}")
    text = str(value)
    if (problem := id_too_long(field, text)) is not None:
        raise _Invalid(RejectReason.INVALID_FIELD, problem)
    return text


def id_too_long(field: str, value: str) -> str | None:
    """Why ``value`` cannot be an id (its length), or None; the worker checks what other producers send too."""
    if len(value) > MAX_ID_CHARS:
        return f"{field} is {len(value)} characters long, over the limit of {MAX_ID_CHARS}"
    return None


def _identity(
    message: dict[str, Any], event_type: EventType, attributes: dict[str, Scalar],
) -> tuple[str, bool, str | None]:
    """(lead id, anonymous, visitor id). An anonymous event's lead id is its visitor id.

    Without a userId, an identify or a form (track) that gives an email names the lead by that
    email: it is how a visitor filling in a form becomes known.
    """
    user_id = _identifier(message.get("userId"), "userId")
    anonymous_id = _identifier(message.get("anonymousId"), "anonymousId")
    if event_type is EventType.ALIAS:
        # alias(previousId -> userId): the earlier id, usually the visitor's, now means this lead.
        anonymous_id = _identifier(message.get("previousId"), "previousId") or anonymous_id
        if not user_id:
            raise _Invalid(RejectReason.MISSING_IDENTITY, "alias without a userId")
    if user_id:
        return user_id, False, anonymous_id
    if event_type in (EventType.IDENTIFY, EventType.TRACK):
        email = facts_from(attributes).get("email")
        if isinstance(email, str):
            return email, False, anonymous_id
    if anonymous_id:
        return anonymous_id, True, anonymous_id
    raise _Invalid(RejectReason.MISSING_IDENTITY, "neither userId nor anonymousId")


def _event_time(message: dict[str, Any], received_at: float) -> float:
    for field in ("timestamp", "originalTimestamp", "sentAt"):
        value = message.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _Invalid(RejectReason.INVALID_FIELD, f"{field} must be an ISO 8601 string")
        moment = iso_seconds(value)
        if moment is None:
            raise _Invalid(RejectReason.INVALID_FIELD, f"{field} {value[:40]!r} is not an ISO 8601 time") from None
        return moment
    return received_at


def iso_seconds(value: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (UTC unless it says otherwise); None if it is not one.

    A valid-looking time can still lie outside what a datetime holds once moved to UTC
    ("0001-01-01T00:00:00+14:00"): not a time either, as nothing downstream could write it back.
    """
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).timestamp()
    except (ValueError, OverflowError):
        return None


def _optional_text(message: dict[str, Any], field: str) -> str | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(RejectReason.INVALID_FIELD, f"{field} must be a string, got {type(value).__name__}")
    if len(value) > MAX_NAME_CHARS:
        raise _Invalid(RejectReason.INVALID_FIELD,
                       f"{field} is {len(value)} characters long, over the limit of {MAX_NAME_CHARS}")
    return value


def _track_name(message: dict[str, Any]) -> str:
    name = _optional_text(message, "event")
    if not name or not name.strip():
        raise _Invalid(RejectReason.INVALID_FIELD, "track message without an event name")
    return name


def _page_path(properties: dict[str, Any], context: dict[str, Any]) -> str:
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    for source in (properties, page):
        path = source.get("path")
        if isinstance(path, str) and path:
            return path
    for source in (properties, page):
        url = source.get("url")
        if isinstance(url, str) and url:
            return urlsplit(url).path or "/"
    return "/"


# The Segment page spec's own properties describe the page, not the person: a page's "title" is
# not a job title, nor its "name" a person's.
PAGE_PROPERTIES = frozenset({"title", "name", "url", "path", "referrer", "search", "keywords", "category"})
# Property names a profile fact could be read from (scoring.profile.ALIASES, nested ones by their
# object: "company" covers "company.name"). On a page or track they name the content or the action
# (a case study's title, its customer's company and industry), so they are dropped there; who the
# person is comes from identify traits, context.traits and group calls.
PERSON_PROPERTIES = frozenset(name.split(".")[0] for names in ALIASES.values() for name in names)
# The one person field a track's properties may carry: the email of whoever acted (a form's sender),
# which names the lead. The collector's form sends its other person fields as context.traits.
TRACK_PERSON_PROPERTIES = frozenset({"email"})


def _about_the_action(event_type: EventType, properties: dict[str, Any]) -> dict[str, Any]:
    """An event's own properties without what would be misread as the person's facts."""
    if event_type in (EventType.PAGE, EventType.SCREEN):
        dropped = PAGE_PROPERTIES | PERSON_PROPERTIES
    elif event_type is EventType.TRACK:
        dropped = PERSON_PROPERTIES - TRACK_PERSON_PROPERTIES
    else:
        return properties  # identify, group, alias: their fields describe who they name
    return {key: value for key, value in properties.items() if key not in dropped}


def _attributes(*sources: dict[str, Any]) -> dict[str, Scalar]:
    """Scalar fields, nested objects flattened one level ("company.name"); later sources win.

    Bounded, so a hostile payload cannot make one event's attributes large.
    """
    flat: dict[str, Scalar] = {}
    for source in sources:
        for key, value in source.items():
            pairs = value.items() if isinstance(value, dict) else ((None, value),)
            for inner_key, inner in pairs:
                if len(flat) >= MAX_ATTRIBUTES:
                    return flat
                name = key if inner_key is None else f"{key}.{inner_key}"
                if (scalar := _scalar(inner)) is not None:
                    flat[name[:MAX_ATTRIBUTE_NAME]] = scalar
    return flat


def _scalar(value: Any) -> Scalar | None:
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE_TEXT]
    if isinstance(value, bool | int | float):
        return value
    return None
