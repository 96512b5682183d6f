"""Sales feedback on a lead: accepted, rejected (with a reason) or sent back to nurturing.

A rejected or recycled lead stays recycled, and never hot, until it shows new intent after
the feedback: sales said no, so the same old signals must not hand it back to them.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

from scoring.engine import Decision, apply
from scoring.model import ScoringModel
from scoring.signals import Signal
from scoring.state import LeadState


class Verdict(str, Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RECYCLE = "recycle"


def apply_feedback(
    state: LeadState, verdict: Verdict, at: float, feedback_id: str, model: ScoringModel
) -> Decision:
    """Record the verdict and reclassify; the change, if any, is caused by the feedback."""
    if verdict is Verdict.ACCEPTED:
        held = replace(state, rejected_at=None)
    else:
        held = replace(state, rejected_at=at if state.rejected_at is None else max(state.rejected_at, at))
    nothing_new = Signal(event_id=feedback_id, lead_id=state.lead_id, anonymous=not state.identified,
                         kind=None, occurred_at=at)
    return apply(held, nothing_new, model, cause="feedback")
