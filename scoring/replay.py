"""Re-scoring history under a model, on the events' own clock.

A history is the inbound events (decoded) and sales verdicts, in the order the live workers
received them. Each is applied to its lead exactly as a live worker applies it; before it, the
lead's demotions that fell due by its own time are applied at their crossing times, as the live
worker's demotion timer does (same event ids, so the same change ids). After the last record,
demotions fall due up to ``until``. No clock is read: weeks of history replay in seconds.

The result equals what a live worker emitted whenever that worker kept up with its input (every
event processed near its own time, as in production). Events a worker processed long after their
own time (a backlog or a backfill) met demotions on the wall clock instead, so there the live
path may differ from this one; this one is the reference either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from scoring.crossing import next_demotion
from scoring.engine import apply
from scoring.events import LeadEvent
from scoring.feedback import Verdict, apply_feedback
from scoring.kinds import IgnoreReason
from scoring.model import ScoringModel
from scoring.changes import QualificationChange
from scoring.outcomes import OutcomeJoin, join_outcome, outcome_of
from scoring.signals import Ignored, Signal, interpret
from scoring.state import LeadState

# Demotions one lead can take between two of its records: one per rung, and there are four.
MAX_DEMOTIONS_PER_GAP = 16


@dataclass(frozen=True)
class SalesVerdict:
    """Sales feedback from leads.feedback, applied at the time it was given."""

    feedback_id: str
    lead_id: str
    verdict: Verdict
    at: float


HistoryRecord = LeadEvent | SalesVerdict


@dataclass(frozen=True)
class Replay:
    model_version: str
    until: float | None
    changes: tuple[QualificationChange, ...]  # every change, each lead's in its own order
    states: Mapping[str, LeadState]  # every lead as it stands at ``until``
    outcomes: tuple[OutcomeJoin, ...]  # every CRM outcome joined to the lead's history then
    counted: Mapping[str, int]  # scored, deduplicated, erased, feedback, ignored:<reason>


def replay(
    history: Iterable[HistoryRecord], model: ScoringModel, until: float | None = None,
    erased: frozenset[str] = frozenset(),
) -> Replay:
    """Replay ``history`` (in arrival order) under ``model``; leads in ``erased`` are skipped entirely."""
    run = _Run(model)
    for record in history:
        if record.lead_id in erased:
            run.counted["erased"] += 1
        elif isinstance(record, SalesVerdict):
            run.feedback(record)
        else:
            run.event(record)
    if until is not None:
        for lead_id in list(run.states):
            run.cool(lead_id, until)
    return Replay(
        model_version=model.version, until=until, changes=tuple(run.changes),
        states=MappingProxyType(run.states), outcomes=tuple(run.outcomes), counted=MappingProxyType(dict(run.counted)),
    )


class _Run:
    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self.states: dict[str, LeadState] = {}
        self.last_scored: dict[str, LeadState] = {}  # each lead as of its latest scored event
        self.changes: list[QualificationChange] = []
        self.outcomes: list[OutcomeJoin] = []
        self.outcome_ids: set[tuple[str, str]] = set()
        self.counted: Counter[str] = Counter()

    def event(self, event: LeadEvent) -> None:
        interpreted = interpret(event, self.model)
        if isinstance(interpreted, Ignored):
            self.counted[f"ignored:{interpreted.reason.value}"] += 1
            if interpreted.reason is IgnoreReason.OUTCOME_ONLY:
                self.outcome(event)
            return
        self.cool(event.lead_id, event.occurred_at)
        decision = apply(self.states.get(event.lead_id), interpreted, self.model)
        if decision.duplicate:
            self.counted["deduplicated"] += 1
            return
        self.counted["scored"] += 1
        self.states[event.lead_id] = self.last_scored[event.lead_id] = decision.state
        if decision.change is not None:
            self.changes.append(decision.change)

    def outcome(self, event: LeadEvent) -> None:
        outcome = outcome_of(event, self.model)
        if outcome is None or (event.lead_id, event.event_id) in self.outcome_ids:
            return  # a redelivered outcome counts once
        self.outcome_ids.add((event.lead_id, event.event_id))
        self.cool(event.lead_id, event.occurred_at)
        self.outcomes.append(join_outcome(self.states.get(event.lead_id), event.lead_id, event.event_id, outcome,
                                          event.occurred_at, evidence=self.last_scored.get(event.lead_id)))

    def feedback(self, verdict: SalesVerdict) -> None:
        self.cool(verdict.lead_id, verdict.at)
        state = self.states.get(verdict.lead_id)
        if state is None:
            return  # the live worker ignores feedback on a lead it does not hold, too
        decision = apply_feedback(state, verdict.verdict, verdict.at, verdict.feedback_id, self.model)
        self.counted["feedback"] += 1
        if not decision.duplicate:
            self.states[verdict.lead_id] = decision.state
            if decision.change is not None:
                self.changes.append(decision.change)

    def cool(self, lead_id: str, now: float) -> None:
        """Apply the lead's demotions due by ``now``, each at its crossing time (streams.pipeline.demote)."""
        state = self.states.get(lead_id)
        previous = None
        for _ in range(MAX_DEMOTIONS_PER_GAP):
            due = next_demotion(state, self.model) if state is not None else None
            if due is None or due > now or (previous is not None and due <= previous):
                break
            previous = due
            crossing = Signal(event_id=f"decay:{due!r}", lead_id=lead_id, anonymous=not state.identified,
                              kind=None, occurred_at=due)
            decision = apply(state, crossing, self.model, cause="decay")
            if decision.duplicate:
                break
            state = decision.state
            if decision.change is not None:
                self.changes.append(decision.change)
        if state is not None:
            self.states[lead_id] = state
