"""What is held per lead: decayed counts per signal kind, never points."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from scoring.changes import QualificationChange
from scoring.events import Contact
from scoring.kinds import SignalKind
from scoring.stages import Stage, Temperature


@dataclass(frozen=True)
class KindTally:
    """One signal kind's history for one lead."""

    decayed: float  # Σ 2^(−(as_of − t_i)/half_life) over its occurrences, at the lead's as_of
    count: int
    last_at: float


@dataclass(frozen=True)
class LeadState:
    lead_id: str
    identified: bool
    as_of: float | None = None  # the latest event time seen; tallies are held at this time
    tallies: Mapping[SignalKind, KindTally] = field(default_factory=lambda: MappingProxyType({}))
    stage: Stage = Stage.NEW
    temperature: Temperature = Temperature.COLD
    contact: Contact | None = None
    sequence: int = 0  # qualification changes emitted so far: orders them per lead
    recent_event_ids: tuple[int, ...] = ()  # hashed ids of the latest events, oldest first
    recent_changes: tuple[tuple[int, QualificationChange], ...] = ()  # (event hash, change it caused)

    @property
    def account(self) -> str | None:
        return self.contact.domain if self.contact else None


def new_lead(lead_id: str, anonymous: bool) -> LeadState:
    return LeadState(lead_id=lead_id, identified=not anonymous)
