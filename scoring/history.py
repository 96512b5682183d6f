"""A lead's recent history: what it did and how it moved, to draw its score over time.

The lead state holds one decayed count per signal kind, enough for the score now but not for
the score last Tuesday. The history keeps the latest events (time and signal kind) and folds
older ones into decayed counts at a cut-off time (``since``), the same representation the state
uses. So the score at any moment from ``since`` on is an exact sum, and at the state's as-of
time it equals the state's own score (up to floating-point rounding), while the history stays
bounded however long the lead lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from msgspec import Struct, field
from msgspec.structs import replace

from scoring.changes import QualificationChange, Scores
from scoring.criteria import Status
from scoring.decay import contribution_at, decayed_to
from scoring.explain import scores_at
from scoring.kinds import SignalKind
from scoring.model import ScoringModel
from scoring.signals import Signal
from scoring.stages import Stage, Temperature
from scoring.state import KindTally, LeadState

EVENTS_KEPT = 64
CHANGES_KEPT = 16
_EMPTY: Mapping = MappingProxyType({})


class Occurrence(Struct, frozen=True, gc=False):
    """One event as the timeline shows it; ``kind`` is None for an identify or an answer."""

    at: float
    kind: SignalKind | None
    answers: Mapping[str, Status] = field(default_factory=lambda: _EMPTY)
    profile_fields: tuple[str, ...] = ()


class Move(Struct, frozen=True, gc=False):
    """One qualification change as the timeline shows it."""

    at: float
    from_stage: Stage
    to_stage: Stage
    from_temperature: Temperature
    to_temperature: Temperature
    cause: str  # "event", "feedback", ...
    total: float  # the score that caused it


class History(Struct, frozen=True, gc=False):
    since: float | None = None  # events up to here are folded into ``folded``; None: nothing folded
    folded: Mapping[SignalKind, float] = field(default_factory=lambda: _EMPTY)  # decayed counts at ``since``
    folded_events: int = 0
    events: tuple[Occurrence, ...] = ()  # by time, oldest first
    moves: tuple[Move, ...] = ()  # in the order they happened, oldest first

    @property
    def starts_at(self) -> float | None:
        """From when the score can be drawn exactly."""
        if self.since is not None:
            return self.since
        return self.events[0].at if self.events else None


def seeded_from(state: LeadState | None) -> History:
    """A history for a lead scored before histories were kept: exact from its as-of time on."""
    if state is None or state.as_of is None or not state.tallies:
        return History()
    return History(
        since=state.as_of,
        folded=MappingProxyType({kind: tally.decayed for kind, tally in state.tallies.items()}),
        folded_events=sum(tally.count for tally in state.tallies.values()),
    )


def record(
    history: History, signal: Signal | None, change: QualificationChange | None, model: ScoringModel,
    events_kept: int = EVENTS_KEPT, changes_kept: int = CHANGES_KEPT,
) -> History:
    """The history after one applied (never a duplicate) signal and the change it caused, if any."""
    if signal is not None:
        occurrence = Occurrence(at=signal.occurred_at, kind=signal.kind, answers=signal.answers,
                                profile_fields=tuple(sorted(signal.profile)))
        # Late events go where they belong in time; equal times keep arrival order.
        position = len(history.events)
        while position > 0 and history.events[position - 1].at > occurrence.at:
            position -= 1
        events = (*history.events[:position], occurrence, *history.events[position:])
        history = replace(history, events=events)
        while len(history.events) > events_kept:
            history = _fold_oldest(history, model)
    if change is not None:
        move = Move(at=change.event_time, from_stage=change.from_stage, to_stage=change.to_stage,
                    from_temperature=change.from_temperature, to_temperature=change.to_temperature,
                    cause=change.cause, total=change.scores.total)
        history = replace(history, moves=(*history.moves, move)[-changes_kept:])
    return history


def _fold_oldest(history: History, model: ScoringModel) -> History:
    oldest, rest = history.events[0], history.events[1:]
    folded = dict(history.folded)
    since = history.since
    if oldest.kind is not None and oldest.kind in model.signals:
        half_life = model.half_life_of(oldest.kind)
        if since is None or oldest.at > since:
            # Move the folded counts forward to the event's time, then add it at full weight.
            if since is not None:
                # A kind the model does not define is kept as held, as the lead's tallies keep it.
                folded = {kind: decayed_to(count, since, oldest.at, model.half_life_of(kind))
                          if kind in model.signals else count for kind, count in folded.items()}
            since = oldest.at
            folded[oldest.kind] = folded.get(oldest.kind, 0.0) + 1.0
        else:
            folded[oldest.kind] = folded.get(oldest.kind, 0.0) + contribution_at(oldest.at, since, half_life)
    # An identify or an answer scores nothing: it only leaves the timeline.
    return replace(history, since=since, folded=MappingProxyType(folded),
                   folded_events=history.folded_events + 1, events=rest)


def tallies_at(history: History, model: ScoringModel, at: float, include_at: bool = True) -> dict[SignalKind, KindTally]:
    """Decayed counts per kind at ``at`` (not before ``starts_at``); ``include_at=False`` leaves out events at ``at``."""
    tallies: dict[SignalKind, KindTally] = {}
    if history.since is not None and at >= history.since:
        for kind, count in history.folded.items():
            if kind in model.signals:
                tallies[kind] = KindTally(decayed_to(count, history.since, at, model.half_life_of(kind)), 0,
                                          history.since)
    for event in history.events:
        if event.kind is None or event.kind not in model.signals:
            continue
        if event.at > at or (event.at == at and not include_at):
            break
        held = tallies.get(event.kind)
        added = contribution_at(event.at, at, model.half_life_of(event.kind))
        tallies[event.kind] = KindTally(
            decayed=(held.decayed if held else 0.0) + added,
            count=(held.count if held else 0) + 1,
            last_at=max(held.last_at, event.at) if held else event.at,
        )
    return tallies


def scores_then(history: History, state: LeadState, model: ScoringModel, at: float, include_at: bool = True) -> Scores:
    """The lead's scores at ``at`` as its history tells them (its fit is today's)."""
    then = replace(state, as_of=at, tallies=MappingProxyType(tallies_at(history, model, at, include_at)))
    return scores_at(then, model, at)


class Sample(Struct, frozen=True, gc=False):
    at: float
    scores: Scores


def series(history: History, state: LeadState, model: ScoringModel, now: float, points: int = 240) -> tuple[Sample, ...]:
    """The scores from the history's start to ``now``: evenly spaced, plus both sides of every event.

    The last sample is the state's own score at ``now`` (what the lead API answers), not a
    reconstruction; the history agrees with it, so the line does not jump there.
    """
    start = history.starts_at
    end = max(now, state.as_of or now)
    if start is None or start > end:
        return (Sample(end, scores_at(state, model, end)),)
    times = {start + (end - start) * i / (points - 1) for i in range(points - 1)} if end > start else set()
    event_times = {event.at for event in history.events if event.kind is not None and start <= event.at < end}
    samples = []
    for at in sorted(times | event_times | {start}):
        if at in event_times and at > start:
            samples.append(Sample(at, scores_then(history, state, model, at, include_at=False)))
        samples.append(Sample(at, scores_then(history, state, model, at)))
    samples.append(Sample(end, scores_at(state, model, end)))
    return tuple(samples)
