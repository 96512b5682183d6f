"""Re-scoring history under a model, on the events' own clock.

A history is the inbound events (decoded) and sales verdicts, in the order the live workers
received them. Each is applied to its lead exactly as a live worker applies it; before it, the
lead's demotions and revisits that fell due by its own time are applied at their own times, as the
live worker's lead timer does (same event ids, so the same change ids). After the last record,
demotions fall due up to ``until``. No clock is read: weeks of history replay in seconds.

Anonymous visitors are stitched as the live workers stitch them (``scoring.visitors``): their
signals are held per visitor id until identify links the visitor to a lead, then scored for the
lead once, in event time; a visitor expires once unseen for ``hold.ttl_s``, on the events' clock.

The result equals what a live worker emitted whenever that worker kept up with its input (every
event processed near its own time, as in production). Events a worker processed long after their
own time (a backlog or a backfill) met demotions on the wall clock instead, so there the live
path may differ from this one; this one is the reference either way.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from scoring.arrival import apply, apply_feedback, apply_outcome, cooled
from scoring.engine import remember_event
from scoring.events import LeadEvent
from scoring.feedback import Verdict
from scoring.kinds import IgnoreReason
from scoring.model import ScoringModel
from scoring.changes import QualificationChange
from scoring.outcomes import OutcomeJoin, join_outcome, outcome_of
from scoring.signals import Ignored, Signal, interpret
from scoring.state import LeadState
from scoring.visitors import Forward, HoldLimits, VisitorState, is_expired, link, on_anonymous

# Anonymous history held without bound or expiry, unless the caller passes the workers' limits.
UNBOUNDED = HoldLimits(max_events=2**31, ttl_s=math.inf)


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
    counted: Mapping[str, int]  # scored, deduplicated, erased, feedback, held, ignored:<reason>


def replay(
    history: Iterable[HistoryRecord], model: ScoringModel, until: float | None = None,
    erased: frozenset[str] = frozenset(), hold: HoldLimits = UNBOUNDED,
) -> Replay:
    """Replay ``history`` (in arrival order) under ``model``; leads in ``erased`` are skipped entirely
    (their identify too, so a visitor's visits never become theirs).

    ``hold`` bounds each anonymous visitor's held history as the workers' settings do.
    """
    run = _Run(model, hold)
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
        for visitor_id in list(run.visitors):
            run.visitor(visitor_id, until)  # forgets the expired ones
    run.counted["held"] = sum(len(visitor.held) for visitor in run.visitors.values())
    return Replay(
        model_version=model.version, until=until, changes=tuple(run.changes),
        states=MappingProxyType(run.states), outcomes=tuple(run.outcomes), counted=MappingProxyType(dict(run.counted)),
    )


class _Run:
    def __init__(self, model: ScoringModel, hold: HoldLimits) -> None:
        self.model = model
        self.hold = hold
        self.states: dict[str, LeadState] = {}
        self.visitors: dict[str, VisitorState] = {}
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
        if interpreted.anonymous:
            self.anonymous(interpreted)
        else:
            self.score(interpreted)
        if interpreted.links_visitor:
            self.stitch(interpreted.links_visitor, interpreted.lead_id, interpreted.occurred_at)

    def score(self, signal: Signal) -> None:
        lead_id = signal.lead_id
        self.cool(lead_id, signal.occurred_at)
        decision = apply(self.states.get(lead_id), signal, self.model)
        if decision.duplicate:
            self.counted["deduplicated"] += 1
            return
        self.counted["scored"] += 1
        self.states[lead_id] = self.last_scored[lead_id] = decision.state
        if decision.change is not None:
            self.changes.append(decision.change)

    def visitor(self, visitor_id: str, now: float) -> VisitorState | None:
        """The visitor as held at ``now``; one unseen for the TTL is forgotten (streams.worker.stitching.expire)."""
        visitor = self.visitors.get(visitor_id)
        if visitor is not None and is_expired(visitor, now, self.hold):
            del self.visitors[visitor_id]
            self.counted[f"ignored:{IgnoreReason.EXPIRED_ANONYMOUS.value}"] += len(visitor.held)
            return None
        return visitor

    def anonymous(self, signal: Signal) -> None:
        """Held on its visitor until identify, or the linked lead's (streams.worker.stitching.hold)."""
        decision = on_anonymous(self.visitor(signal.lead_id, signal.occurred_at), signal, signal.occurred_at,
                                self.hold)
        self.visitors[signal.lead_id] = decision.state
        if isinstance(decision, Forward):
            self.score(decision.signal)
        elif decision.duplicate:
            self.counted["deduplicated"] += 1
        elif decision.evicted:
            self.counted[f"ignored:{IgnoreReason.EXPIRED_ANONYMOUS.value}"] += decision.evicted

    def stitch(self, visitor_id: str, lead_id: str, at: float) -> None:
        """Identify linked the visitor: its held history is scored for the lead once (streams.worker.pipeline.stitch)."""
        linked = link(self.visitor(visitor_id, at), visitor_id, lead_id, at)
        self.visitors[visitor_id] = linked.state
        if linked.release_id is None:
            return
        for signal in sorted(linked.released, key=lambda held: held.occurred_at):
            self.score(signal)
        state = self.states.get(lead_id)
        if state is not None:
            self.states[lead_id] = remember_event(state, linked.release_id, self.model)

    def outcome(self, event: LeadEvent) -> None:
        outcome = outcome_of(event, self.model)
        if outcome is None or (event.lead_id, event.event_id) in self.outcome_ids:
            return  # a redelivered outcome counts once
        self.outcome_ids.add((event.lead_id, event.event_id))
        self.cool(event.lead_id, event.occurred_at)
        state = self.states.get(event.lead_id)
        self.outcomes.append(join_outcome(state, event.lead_id, event.event_id, outcome,
                                          event.occurred_at, evidence=self.last_scored.get(event.lead_id)))
        if state is not None:  # sales speaking through the CRM, as the live worker applies it (outcome_join.join)
            decision = apply_outcome(state, outcome, event.occurred_at, event.event_id, self.model)
            if not decision.duplicate:
                self.states[event.lead_id] = decision.state
                if decision.change is not None:
                    self.changes.append(decision.change)

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
        """Apply the lead's demotions and revisits due by ``now``, each at its own time (streams.worker.lead_commands.demote)."""
        state = self.states.get(lead_id)
        if state is not None:
            self.states[lead_id], changes = cooled(state, now, self.model)
            self.changes.extend(changes)
