"""Erasure and sales-feedback records: what leads.qualification and leads.feedback carry about them.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

from typing import Any

import orjson

from scoring import (
    LeadState,
)
from scoring.changes import change_id
from streams.contracts.encoding import iso_time


def erasure_summary(state: LeadState | None, erased_at: float) -> dict[str, Any]:
    """What an erasure removed, without repeating any of it."""
    return {
        "erased_at": iso_time(erased_at),
        "lead_state": state is not None,
        "events_counted": sum(t.count for t in state.tallies.values()) if state else 0,
        "signal_kinds": len(state.tallies) if state else 0,
        "profile_fields": sorted(state.profile) if state else [],
        "criteria_answers": len(state.answers) if state else 0,
        # Held anonymous history is released to the lead on identify, so none is held for a lead.
        "held_anonymous_events": 0,
    }


def encode_erasure_event(lead_id: str, summary: dict[str, Any]) -> bytes:
    return orjson.dumps({
        "kind": "lead_erased",
        "change_id": change_id(lead_id, "erasure"),
        "lead_id": lead_id,
        "erased_at": summary["erased_at"],
    })


# --- leads.feedback: sales verdicts, kept for calibration ----------------------------------

def encode_feedback_event(lead_id: str, feedback: dict[str, Any], state: LeadState | None) -> bytes:
    return orjson.dumps({
        "kind": "sales_feedback",
        "feedback_id": feedback["feedback_id"],
        "lead_id": lead_id,
        "verdict": feedback["verdict"],
        "reason": feedback.get("reason"),
        "by": feedback.get("by"),
        "at": iso_time(feedback["issued_at"]),
        "stage": state.stage.value if state else None,
        "temperature": state.temperature.value if state else None,
    })
