"""Scores and their explanations, evaluated at a moment in time."""

from __future__ import annotations

from scoring.changes import Contribution, Scores
from scoring.decay import decayed_to
from scoring.kinds import Component
from scoring.model import ScoringModel
from scoring.state import LeadState


def contributions_at(state: LeadState, model: ScoringModel, at: float) -> list[Contribution]:
    """Every signal kind's points now; ``at`` before the lead's as-of time reads as its as-of."""
    if state.as_of is None:
        return []
    at = max(at, state.as_of)
    return [
        Contribution(
            kind=kind,
            points_now=model.rule(kind).points
            * decayed_to(tally.decayed, state.as_of, at, model.half_life_of(kind)),
            last_at=tally.last_at,
            count=tally.count,
        )
        for kind, tally in state.tallies.items()
        if kind in model.signals
    ]


def scores_at(state: LeadState, model: ScoringModel, at: float) -> Scores:
    sums = dict.fromkeys(Component, 0.0)
    for contribution in contributions_at(state, model, at):
        sums[model.rule(contribution.kind).component] += contribution.points_now
    return Scores(interest=sums[Component.INTEREST], intent=sums[Component.INTENT])


def top_contributions(state: LeadState, model: ScoringModel, at: float) -> tuple[Contribution, ...]:
    """The largest contributions, most recent first among equals, zero-point kinds left out."""
    ranked = sorted(
        (c for c in contributions_at(state, model, at) if c.points_now > 0.0),
        key=lambda c: (-c.points_now, -c.last_at, c.kind.value),
    )
    return tuple(ranked[: model.top_reasons])
