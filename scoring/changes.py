"""Qualification changes: the decisions the scoring core hands back to be emitted."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from msgspec import Struct

from scoring.criteria import Status
from scoring.kinds import SignalKind
from scoring.stages import Stage, Temperature


class Scores(Struct, frozen=True, gc=False):
    interest: float  # decayed, capped per signal kind
    intent: float
    negative: float  # subtracted from engagement
    product: float = 0.0  # the part of intent that comes from product usage (PQL)
    fit: float = 0.0  # 0–100, explicit profile against the ICP; does not decay

    @property
    def engagement(self) -> float:
        return self.interest + self.intent - self.negative

    @property
    def total(self) -> float:
        return self.engagement


class Contribution(Struct, frozen=True, gc=False):
    """One signal kind's share of a score: its points now, after decay and its cap."""

    kind: SignalKind
    points_now: float
    last_at: float
    count: int


class QualificationChange(Struct, frozen=True, gc=False):
    change_id: str  # stable: the same causing event always yields the same id
    lead_id: str
    sequence: int
    account: str | None
    from_stage: Stage
    to_stage: Stage
    from_temperature: Temperature
    to_temperature: Temperature
    scores: Scores
    reasons: tuple[Contribution, ...]
    fit_reasons: tuple[tuple[str, float], ...]
    framework: str
    criteria: Mapping[str, Status]
    disqualified_by: tuple[str, ...]
    model_version: str
    cause_event_id: str
    event_time: float
    # What kind of thing cause_event_id names: "event", "feedback", "outcome" (a CRM deal), "decay",
    # "inactivity" (a sales-qualified lead quiet past the bound), "cooldown" (a rejection's hold lifted), "model",
    # "late" (an input arrived after later ones: the lead was re-derived in event time, scoring.arrival).
    cause: str = "event"
    # The verdict (accepted, rejected, recycle) or the deal outcome; for "late", what arrived late
    # ("event", "feedback:<verdict>", "outcome:<outcome>").
    cause_detail: str | None = None
    needs_enrichment: bool = False  # a gate its behaviour reaches is decided by fit attributes nobody stated
    # The lead's letter grade after it (scoring.grade); None only on a change remembered from before grades.
    grade: str | None = None


def change_id(lead_id: str, cause_event_id: str) -> str:
    """Derived from the causing event, so a redelivery re-emits the change under the same id."""
    digest = hashlib.blake2b(f"{lead_id}\x1f{cause_event_id}".encode(), digest_size=16)
    return digest.hexdigest()
