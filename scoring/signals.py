"""From an inbound event to the signal it is worth, or the reason it is not scored."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scoring.events import Contact, EventType, LeadEvent
from scoring.kinds import IgnoreReason, SignalKind
from scoring.model import ScoringModel, normalise_event_name

# Crawlers and scripted clients announce themselves; real browsers do not say these words.
BOT_USER_AGENT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|headless|lighthouse|pingdom|uptime|monitor"
    r"|curl/|wget/|python-requests|python-urllib|go-http-client|java/|okhttp|scrapy|httpclient",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Signal:
    """A scored event. ``kind`` is None for an event that only tells who the lead is."""

    event_id: str
    lead_id: str
    anonymous: bool
    kind: SignalKind | None
    occurred_at: float
    contact: Contact | None = None


@dataclass(frozen=True)
class Ignored:
    reason: IgnoreReason


def is_bot(user_agent: str | None) -> bool:
    return bool(user_agent) and BOT_USER_AGENT.search(user_agent) is not None


def page_kind(path: str | None, model: ScoringModel) -> SignalKind:
    lowered = (path or "/").lower()
    for rule in model.page_rules:
        if lowered.startswith(rule.prefix):
            return rule.kind
    return model.default_page_kind


def interpret(event: LeadEvent, model: ScoringModel) -> Signal | Ignored:
    if not event.consent:
        return Ignored(IgnoreReason.NO_CONSENT)
    if is_bot(event.user_agent):
        return Ignored(IgnoreReason.BOT)
    match event.type:
        case EventType.IDENTIFY:
            kind = None
        case EventType.PAGE | EventType.SCREEN:
            kind = page_kind(event.path, model)
        case EventType.TRACK:
            name = normalise_event_name(event.name or "")
            if name in model.outcome_events:
                return Ignored(IgnoreReason.OUTCOME_ONLY)
            if name not in model.track_events:
                return Ignored(IgnoreReason.UNMAPPED_EVENT)
            kind = model.track_events[name]
        case _:
            # group and alias carry no behaviour to score until identity merging handles them.
            return Ignored(IgnoreReason.UNMAPPED_EVENT)
    return Signal(
        event_id=event.event_id,
        lead_id=event.lead_id,
        anonymous=event.anonymous,
        kind=kind,
        occurred_at=event.occurred_at,
        contact=event.contact,
    )
