"""What leadstream writes on a CRM record: a lead's latest qualification, as neutral field values.

One :class:`LeadState` per write, from the lead's latest change (or, for a ``lead_erased`` notice,
every field cleared). Each CRM names the fields its own way (hubspot.py, salesforce.py); the
values are the same: score, stage, temperature, grade, the top reasons in words, the model
version and the time of the last change. A change without a ``grade`` leaves the grade out, so
the CRM keeps what it holds rather than being blanked by an older producer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.alerting.change import Change

TOP_REASONS = 3
# The neutral names, in the order the docs and `crm setup` list them.
FIELDS = ("score", "stage", "temperature", "grade", "top_reasons", "model_version", "last_change_at")


@dataclass(frozen=True)
class LeadState:
    """The values to write for one lead; ``values`` None means clear leadstream's fields (erasure)."""

    lead_id: str
    values: Mapping[str, Any] | None
    document: Mapping[str, Any] = field(compare=False, repr=False)  # the record it came from, for dead letters

    @property
    def clears(self) -> bool:
        return self.values is None


def state_of(change: Change) -> LeadState:
    """The fields ``change`` sets: absolute values, so writing them twice leaves the same record."""
    values: dict[str, Any] = {
        "score": round(change.score.total, 1),
        "stage": change.to_stage.value,
        "temperature": change.to_temperature.value,
        "top_reasons": reasons_in_words(change),
        "model_version": change.model_version,
        "last_change_at": change.event_time or change.document.get("emitted_at"),
    }
    grade = change.document.get("grade")
    if isinstance(grade, str) and grade:
        values["grade"] = grade
    return LeadState(change.lead_id, values, change.document)


def cleared(lead_id: str, notice: Mapping[str, Any]) -> LeadState:
    return LeadState(lead_id, None, notice)


def reasons_in_words(change: Change) -> str:
    """"demo request (30 pts); pricing view ×3 (27.5 pts)": what a rep reads in the CRM, largest first."""
    words = []
    for reason in change.reasons[:TOP_REASONS]:
        times = f" ×{reason.count}" if reason.count > 1 else ""
        words.append(f"{reason.signal.replace('_', ' ')}{times} ({reason.points_now:g} pts)")
    if change.disqualified_by:
        words.append("disqualified: " + ", ".join(change.disqualified_by))
    return "; ".join(words)
