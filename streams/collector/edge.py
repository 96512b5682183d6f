"""Validation at the edge: one inbound message in, one record to produce (or why not) out.

Structural checks are the worker's own (``streams.contracts.segment.decode_segment``), so the collector
never accepts what the worker would dead-letter; the model is not consulted here, as a track
name the model does not map is still a fact worth keeping (and the worker counts it as ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from scoring import EventType
from scoring.signals import is_bot
from streams.contracts.encoding import iso_time
from streams.collector.consent import event_consent
from streams.contracts.consent import OPT_OUT, ConsentPolicy
from streams.contracts.privacy import truncate_ips
from streams.contracts.segment import MAX_CLOCK_SKEW_S, RejectReason, Rejection, decode_segment, iso_seconds

TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt")
EVENT_TYPES = frozenset(t.value for t in EventType)


@dataclass(frozen=True)
class Hit:
    """What the request says about every event it carries."""

    received_at: float
    client_ip: str | None = None  # already truncated
    consent: bool | None = None  # the request's own DNT / GPC / consent=false (False) or consent=true (True)
    defaults: dict[str, Any] | None = None  # batch-level context and the like, under each event's own
    policy: ConsentPolicy = OPT_OUT  # LEADSTREAM_CONSENT

    @property
    def consents(self) -> bool:
        """Whether the request lets us keep anything of this visitor (a cookie included) before reading its events."""
        return self.consent is True or (self.consent is None and not self.policy.opt_in)


@dataclass(frozen=True)
class Accepted:
    key: bytes
    value: bytes
    type: str
    bot: bool
    clamped: bool  # its future timestamp was set to the time received


@dataclass(frozen=True)
class Rejected:
    reason: str
    detail: str
    type: str = "invalid"


@dataclass(frozen=True)
class Refused:
    """No consent: not kept, not produced."""

    type: str


@dataclass(frozen=True)
class Unreadable:
    """A message an endpoint already found invalid (an unknown field of the native form, say)."""

    reason: str
    detail: str


def admit(message: Any, hit: Hit, max_event_bytes: int) -> Accepted | Rejected | Refused:
    if isinstance(message, Unreadable):
        return Rejected(message.reason, message.detail)
    if not isinstance(message, dict):
        return Rejected(RejectReason.NOT_AN_OBJECT.value, f"an event must be a JSON object, got {type(message).__name__}")
    # A label of the received counter: from a fixed set, whatever the sender wrote.
    event_type = message.get("type") if message.get("type") in EVENT_TYPES else "invalid"
    said = event_consent(message, hit.policy)
    if hit.consent is False or said is False or (hit.policy.opt_in and True not in (hit.consent, said)):
        return Refused(event_type)
    message, clamped = _clamped(_enriched(message, hit, stamp_consent=said is not True and hit.consent is True),
                                hit.received_at)
    try:
        value = truncate_ips(orjson.dumps(message))
    except TypeError as exc:  # what JSON can say and orjson cannot write (an integer beyond 64 bits)
        return Rejected(RejectReason.INVALID_FIELD.value, str(exc), event_type)
    decoded = decode_segment(value, hit.received_at, max_event_bytes)
    if isinstance(decoded, Rejection):
        return Rejected(decoded.reason.value, decoded.detail, event_type)
    # The raw topic's key: userId, else anonymousId; a form known only by its email, by that email.
    key = str(message.get("userId") or message.get("anonymousId") or decoded.lead_id).encode()
    return Accepted(truncate_ips(key), value, decoded.type.value, is_bot(decoded.user_agent), clamped)


def _enriched(message: dict[str, Any], hit: Hit, stamp_consent: bool = False) -> dict[str, Any]:
    """The request's defaults under the event's own fields, the client's (truncated) address, the receipt time.

    A yes the request gave (``consent=true`` on the pixel, a form's ``_consent``) is written into the
    event as ``context.consent``, so the worker, which checks again, reads it too.
    """
    defaults = hit.defaults or {}
    context = message.get("context")
    if isinstance(context, dict) or context is None:
        context = {**(defaults.get("context") or {}), **(context or {})}
        if hit.client_ip and "ip" not in context:
            context["ip"] = hit.client_ip
        if stamp_consent:
            context["consent"] = True
    enriched = {**{k: v for k, v in defaults.items() if k != "context"}, **message, "context": context}
    enriched.pop("writeKey", None)  # a beacon's credential, not part of the event
    enriched["receivedAt"] = iso_time(hit.received_at)
    return enriched


def _clamped(message: dict[str, Any], received_at: float) -> tuple[dict[str, Any], bool]:
    """A timestamp later than the skew allows is set to the time received (the sender's clock runs ahead)."""
    for field in TIME_FIELDS:
        value = message.get(field)
        if value is None:
            continue
        moment = iso_seconds(value) if isinstance(value, str) else None
        if moment is None:
            return message, False  # the decoder rejects it with its reason
        if moment <= received_at + MAX_CLOCK_SKEW_S:
            return message, False
        return {**message, "timestamp": iso_time(received_at), "originalTimestamp": value}, True
    return message, False
