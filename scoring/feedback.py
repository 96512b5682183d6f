"""What sales says about a lead: feedback (accepted, rejected with a reason, sent back to
nurturing) and CRM deal outcomes.

Sales owns SQL (``scoring.sales``): an acceptance or an opportunity makes the lead SQL; a
rejection, a recycle or a closed deal ends that. A rejected or recycled lead is held back (never
hot, never qualified) for the model's cooldown and until it shows enough new intent: sales said
no, so the same old signals must not hand it back to them.

These apply what sales said to the lead as it stands; ``scoring.arrival`` keeps them in the lead's
journal, in event time, with its events.
"""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType

from msgspec.structs import replace

from scoring.engine import Decision, step
from scoring.kinds import DealOutcome
from scoring.model import ScoringModel
from scoring.signals import Signal
from scoring.state import LeadState

_NOTHING_RENEWED = MappingProxyType({})


class Verdict(str, Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RECYCLE = "recycle"


def _later(held: float | None, at: float) -> float:
    return at if held is None else max(held, at)


def feedback_step(
    state: LeadState, verdict: Verdict, at: float, feedback_id: str, model: ScoringModel
) -> Decision:
    """Record the verdict and reclassify; the change, if any, is caused by the feedback."""
    if verdict is Verdict.ACCEPTED:
        # Sales' latest word holds: on a clock that stands still a recycle and the acceptance after it
        # share a time, and an end at that time must not outlast the acceptance that followed it.
        ended = None if state.sql_ended_at == at else state.sql_ended_at
        held = replace(state, rejected_at=None, renewed=_NOTHING_RENEWED, accepted_at=_later(state.accepted_at, at),
                       sql_ended_at=ended)
    else:
        held = replace(state, rejected_at=_later(state.rejected_at, at), renewed=_NOTHING_RENEWED,
                       sql_ended_at=_later(state.sql_ended_at, at))
    return _reclassified(held, at, feedback_id, model, "feedback", verdict.value)


def outcome_step(
    state: LeadState, outcome: DealOutcome, at: float, event_id: str, model: ScoringModel
) -> Decision:
    """A CRM outcome for the lead: an opportunity is sales accepting it; a won or lost deal ends its SQL."""
    if outcome is DealOutcome.OPPORTUNITY:
        held = replace(state, accepted_at=_later(state.accepted_at, at))
    else:
        held = replace(state, sql_ended_at=_later(state.sql_ended_at, at))
    return _reclassified(held, at, event_id, model, "outcome", outcome.value)


def _reclassified(state: LeadState, at: float, cause_id: str, model: ScoringModel, cause: str, detail: str) -> Decision:
    nothing_new = Signal(event_id=cause_id, lead_id=state.lead_id, anonymous=not state.identified,
                         kind=None, occurred_at=at)
    return step(state, nothing_new, model, cause=cause, detail=detail)
