"""CRM outcomes joined to lead stage history: conversion rates, and how well a stage predicts a win.

An outcome event (opportunity created, deal won, deal lost) is never scored; when it arrives it
is joined to the lead's history as it stands then: every stage the lead has held, the hottest
temperature it reached, and the signal kinds it has shown. Live workers count the joins as
metrics; ``leadstream report``, ``replay`` and ``calibrate`` make the same joins from history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from scoring.events import EventType, LeadEvent
from scoring.kinds import DealOutcome, SignalKind
from scoring.model import ScoringModel, normalise_event_name
from scoring.stages import Stage, Temperature
from scoring.state import LeadState

CLOSING = frozenset({DealOutcome.WON, DealOutcome.LOST})
_NOTHING: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class OutcomeJoin:
    """One CRM outcome and the lead's history when it arrived (``stage`` None: a lead never scored)."""

    lead_id: str
    event_id: str
    outcome: DealOutcome
    at: float
    stage: Stage | None
    temperature: Temperature | None
    reached: frozenset[Stage]
    hottest: Temperature | None
    signals: frozenset[SignalKind]  # kinds the lead had shown
    # Decayed count per signal kind at the lead's last scored event before the outcome: what
    # calibration fits to. Only replays fill it in.
    counts: Mapping[SignalKind, float] = field(default_factory=lambda: _NOTHING)


def outcome_of(event: LeadEvent, model: ScoringModel) -> DealOutcome | None:
    """What ``event`` says about the lead's deal, or None if it is no deal outcome."""
    if event.type is not EventType.TRACK:
        return None
    return model.deal_outcomes.get(normalise_event_name(event.name or ""))


def join_outcome(
    state: LeadState | None, lead_id: str, event_id: str, outcome: DealOutcome, at: float,
    evidence: LeadState | None = None,
) -> OutcomeJoin:
    """Join an outcome to ``state``; ``evidence`` is the state whose counts calibration should see."""
    if state is None:
        return OutcomeJoin(lead_id, event_id, outcome, at, None, None, frozenset(), None, frozenset())
    counted = evidence if evidence is not None else state
    return OutcomeJoin(
        lead_id=lead_id, event_id=event_id, outcome=outcome, at=at,
        stage=state.stage, temperature=state.temperature, reached=state.reached, hottest=state.hottest,
        signals=frozenset(kind for kind, tally in state.tallies.items() if tally.count > 0),
        counts=MappingProxyType({kind: tally.decayed for kind, tally in counted.tallies.items()}),
    )


@dataclass(frozen=True)
class Counts:
    opportunities: int = 0
    won: int = 0
    lost: int = 0

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def win_rate(self) -> float | None:
        """Won among closed deals; None before any deal closed."""
        return self.won / self.closed if self.closed else None


@dataclass(frozen=True)
class Conversion:
    """Outcomes counted overall, per stage held, per hottest temperature and per signal kind shown."""

    overall: Counts
    by_stage: Mapping[Stage, Counts]
    by_temperature: Mapping[Temperature, Counts]
    by_signal: Mapping[SignalKind, Counts]


def conversion(joins: Iterable[OutcomeJoin]) -> Conversion:
    overall: Counter[DealOutcome] = Counter()
    by_stage: dict[Stage, Counter[DealOutcome]] = {}
    by_temperature: dict[Temperature, Counter[DealOutcome]] = {}
    by_signal: dict[SignalKind, Counter[DealOutcome]] = {}
    for joined in joins:
        overall[joined.outcome] += 1
        for stage in joined.reached:
            by_stage.setdefault(stage, Counter())[joined.outcome] += 1
        if joined.hottest is not None:
            by_temperature.setdefault(joined.hottest, Counter())[joined.outcome] += 1
        for kind in joined.signals:
            by_signal.setdefault(kind, Counter())[joined.outcome] += 1
    return Conversion(
        overall=_counts(overall),
        by_stage=MappingProxyType({s: _counts(by_stage[s]) for s in Stage if s in by_stage}),
        by_temperature=MappingProxyType({t: _counts(by_temperature[t]) for t in Temperature if t in by_temperature}),
        by_signal=MappingProxyType({k: _counts(by_signal[k]) for k in sorted(by_signal)}),
    )


def _counts(counter: Counter[DealOutcome]) -> Counts:
    return Counts(counter[DealOutcome.OPPORTUNITY], counter[DealOutcome.WON], counter[DealOutcome.LOST])


def first_closings(joins: Iterable[OutcomeJoin]) -> dict[str, OutcomeJoin]:
    """Each lead's first won or lost outcome: the deal a qualification is judged by."""
    first: dict[str, OutcomeJoin] = {}
    for joined in joins:
        if joined.outcome in CLOSING and joined.lead_id not in first:
            first[joined.lead_id] = joined
    return first


@dataclass(frozen=True)
class StageVerdict:
    """How well reaching ``reached`` (a stage's name, or "hot") before the deal closed predicted a win,
    over leads with a closed deal."""

    reached: str
    won_reached: int  # true positives: won deals among leads that reached it
    lost_reached: int  # false positives
    won_missed: int  # false negatives: won deals whose lead never reached it

    @property
    def precision(self) -> float | None:
        reached = self.won_reached + self.lost_reached
        return self.won_reached / reached if reached else None

    @property
    def recall(self) -> float | None:
        won = self.won_reached + self.won_missed
        return self.won_reached / won if won else None


def stage_verdict(joins: Iterable[OutcomeJoin], stage: Stage = Stage.SQL) -> StageVerdict:
    return _verdict(joins, stage.value, lambda closing: stage in closing.reached)


def hot_verdict(joins: Iterable[OutcomeJoin]) -> StageVerdict:
    """Whether the lead was hot before its deal closed: the model's own call to hand it to sales.

    SQL no longer is one (sales acceptance and a CRM opportunity make it), so a model is judged by this.
    """
    return _verdict(joins, "hot", lambda closing: closing.hottest is Temperature.HOT)


def _verdict(joins: Iterable[OutcomeJoin], reached: str, reached_it: Callable[[OutcomeJoin], bool]) -> StageVerdict:
    counts: Counter[tuple[bool, bool]] = Counter()
    for closing in first_closings(joins).values():
        counts[(closing.outcome is DealOutcome.WON, reached_it(closing))] += 1
    return StageVerdict(reached, counts[(True, True)], counts[(False, True)], counts[(True, False)])
