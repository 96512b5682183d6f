"""Inbound events in domain form, decoded once at the edge of the stream."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from msgspec import Struct, field

from scoring.profile import Scalar


class EventType(str, Enum):
    """The Segment spec's message types."""

    PAGE = "page"
    SCREEN = "screen"
    TRACK = "track"
    IDENTIFY = "identify"
    GROUP = "group"
    ALIAS = "alias"


class LeadEvent(Struct, frozen=True, gc=False):
    event_id: str
    # The known lead (userId, or the email an anonymous visitor gave in a form or identify);
    # for an anonymous event, the visitor id: its history is held until identify links it.
    lead_id: str
    anonymous: bool  # the lead id is a visitor id, not a known person
    type: EventType
    occurred_at: float  # epoch seconds: event time drives decay
    name: str | None = None  # track event name, or page name
    path: str | None = None  # page path
    # Scalar traits and properties, flattened one level ("company.name"): what the lead told us.
    attributes: Mapping[str, Scalar] = field(default_factory=lambda: MappingProxyType({}))
    user_agent: str | None = None
    consent: bool = True  # False for Do-Not-Track or consent=false hits
    # The visitor id the event carries (anonymousId; an alias's previousId) when it also names
    # a lead: identify, alias or a form with an email then link that visitor to the lead.
    visitor_id: str | None = None
