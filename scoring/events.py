"""Inbound events in domain form, decoded once at the edge of the stream."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EventType(str, Enum):
    """The Segment spec's message types."""

    PAGE = "page"
    SCREEN = "screen"
    TRACK = "track"
    IDENTIFY = "identify"
    GROUP = "group"
    ALIAS = "alias"


@dataclass(frozen=True)
class Contact:
    """What a lead told us about themselves (identify traits, form fields)."""

    email: str | None = None
    name: str | None = None
    company: str | None = None
    title: str | None = None

    @property
    def domain(self) -> str | None:
        if not self.email or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1].lower()

    def merged_over(self, older: Contact | None) -> Contact:
        """Newer answers win; fields this event did not carry keep their older value."""
        if older is None:
            return self
        return Contact(
            email=self.email or older.email,
            name=self.name or older.name,
            company=self.company or older.company,
            title=self.title or older.title,
        )


@dataclass(frozen=True)
class LeadEvent:
    event_id: str
    lead_id: str
    anonymous: bool  # the lead id is a visitor id, not a known person
    type: EventType
    occurred_at: float  # epoch seconds: event time drives decay
    name: str | None = None  # track event name, or page name
    path: str | None = None  # page path
    contact: Contact | None = None
    user_agent: str | None = None
    consent: bool = True  # False for Do-Not-Track or consent=false hits
