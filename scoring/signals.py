"""From an inbound event to the signal it is worth, or the reason it is not scored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from msgspec import Struct, field

from scoring.criteria import Status, answers_from
from scoring.events import EventType, LeadEvent
from scoring.kinds import IgnoreReason, SignalKind
from scoring.model import DwellRule, ScoringModel, normalise_event_name
from scoring.profile import ACCOUNT_ALIASES, ProfileValue, facts_from

# Crawlers and scripted clients announce themselves; real browsers do not say these words.
BOT_USER_AGENT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|headless|lighthouse|pingdom|uptime|monitor"
    r"|curl/|wget/|python-requests|python-urllib|go-http-client|java/|okhttp|scrapy|httpclient",
    re.IGNORECASE,
)
_NOTHING: Mapping = MappingProxyType({})


class Signal(Struct, frozen=True, gc=False, array_like=True, tag=0):
    """A scored event. ``kind`` is None for an event that only tells who the lead is or answers criteria."""

    event_id: str
    lead_id: str
    anonymous: bool
    kind: SignalKind | None
    occurred_at: float
    profile: Mapping[str, ProfileValue] = field(default_factory=lambda: _NOTHING)
    answers: Mapping[str, Status] = field(default_factory=lambda: _NOTHING)
    # The visitor this event links to the lead (identify, alias, a form with an email): the
    # visitor's held anonymous history is then scored for the lead, and so are its later visits.
    links_visitor: str | None = None


class Ignored(Struct, frozen=True, gc=False):
    reason: IgnoreReason


# Real user agents are a few hundred characters; longer ones are searched each time, so a hostile
# sender cannot fill the cache with large strings.
CACHED_AGENT_LENGTH = 512


def is_bot(user_agent: str | None) -> bool:
    if not user_agent:
        return False
    if len(user_agent) > CACHED_AGENT_LENGTH:
        return BOT_USER_AGENT.search(user_agent) is not None
    return _is_bot_agent(user_agent)


@lru_cache(maxsize=1024)  # a site's traffic comes from a few hundred browser builds: the regex runs once each
def _is_bot_agent(user_agent: str) -> bool:
    return BOT_USER_AGENT.search(user_agent) is not None


def use_bot_patterns(pattern: str) -> None:
    """Configuration, like the model: LEADSTREAM_COLLECTOR_BOT_PATTERNS, set once at start by the collector and the worker."""
    global BOT_USER_AGENT
    BOT_USER_AGENT = re.compile(pattern, re.IGNORECASE)
    _is_bot_agent.cache_clear()


def page_kind(path: str | None, model: ScoringModel) -> SignalKind:
    lowered = (path or "/").lower()
    for rule in model.page_rules:
        if lowered.startswith(rule.prefix):
            return rule.kind
    return model.default_page_kind


def _kind(event: LeadEvent, model: ScoringModel) -> SignalKind | Ignored | None:
    match event.type:
        case EventType.IDENTIFY | EventType.GROUP | EventType.ALIAS:
            return None
        case EventType.PAGE | EventType.SCREEN:
            if model.dwell is not None and DWELL_SECONDS in event.attributes:
                return _dwell(event, model.dwell)  # reported on leave: its view was reported on load
            return page_kind(event.path, model)
        case EventType.TRACK:
            name = normalise_event_name(event.name or "")
            if name in model.outcome_events:
                return Ignored(IgnoreReason.OUTCOME_ONLY)
            kind = model.track_events.get(name, Ignored(IgnoreReason.UNMAPPED_EVENT))
            if model.dwell is not None and kind == model.dwell.kind:
                return _dwell(event, model.dwell)
            return kind


DWELL_SECONDS = "dwell_seconds"


def _dwell(event: LeadEvent, rule: DwellRule) -> SignalKind | Ignored:
    """A page read at least the model's minimum is engagement; a glance (or no duration) is not."""
    seconds = event.attributes.get(DWELL_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= rule.minimum_seconds:
        return Ignored(IgnoreReason.BRIEF_VISIT)
    return rule.kind


def _links_visitor(event: LeadEvent, profile: Mapping[str, ProfileValue]) -> str | None:
    """Identify and alias link the visitor they carry to the lead; so does a form giving an email."""
    if event.anonymous or not event.visitor_id or event.visitor_id == event.lead_id:
        return None
    if event.type in (EventType.IDENTIFY, EventType.ALIAS) or "email" in profile:
        return event.visitor_id
    return None


def interpret(event: LeadEvent, model: ScoringModel) -> Signal | Ignored:
    if not event.consent:
        return Ignored(IgnoreReason.NO_CONSENT)
    if is_bot(event.user_agent):
        return Ignored(IgnoreReason.BOT)
    kind = _kind(event, model)
    if event.type is EventType.GROUP:
        # Account membership: the traits describe the lead's company, never the person.
        profile, answers = facts_from(event.attributes, ACCOUNT_ALIASES), {}
    elif event.type is EventType.ALIAS:
        profile, answers = {}, {}  # an alias's traits describe the other id
    else:
        profile = facts_from(event.attributes)
        answers = answers_from(event.attributes, model.criteria.answer_fields, model.criteria.known,
                               model.criteria.reading, event.occurred_at)
    links_visitor = _links_visitor(event, profile)
    if isinstance(kind, Ignored):
        # An unmapped track (a form) that still tells who the lead is, or answers a criterion, counts.
        if event.type is not EventType.TRACK or kind.reason is not IgnoreReason.UNMAPPED_EVENT:
            return kind
        if not (profile or answers):
            return kind
        kind = None
    elif kind is None and not (profile or answers or links_visitor or event.type is EventType.IDENTIFY):
        # A group without company facts, or an alias linking nothing, tells us nothing.
        return Ignored(IgnoreReason.UNMAPPED_EVENT)
    return Signal(
        event_id=event.event_id,
        lead_id=event.lead_id,
        anonymous=event.anonymous,
        kind=kind,
        occurred_at=event.occurred_at,
        profile=MappingProxyType(profile),
        answers=MappingProxyType(answers),
        links_visitor=links_visitor,
    )
