"""Scores and their explanations, evaluated at a moment in time."""

from __future__ import annotations

from scoring.changes import Contribution, Scores
from scoring.criteria import criteria_status
from scoring.decay import decayed_to
from scoring.fit import assess_fit, disqualifications
from scoring.kinds import Component
from scoring.model import ScoringModel
from scoring.qualification import Assessment
from scoring.state import LeadState


def contributions_at(state: LeadState, model: ScoringModel, at: float) -> list[Contribution]:
    """Every signal kind's points now (decayed, then capped); ``at`` is never before the as-of time."""
    if state.as_of is None:
        return []
    at = max(at, state.as_of)
    contributions = []
    for kind, tally in state.tallies.items():
        rule = model.signals.get(kind)
        if rule is None:
            continue  # a kind the current model no longer scores
        points = rule.points * decayed_to(tally.decayed, state.as_of, at, model.half_life_of(kind))
        if rule.cap is not None:
            points = min(points, rule.cap)
        contributions.append(Contribution(kind=kind, points_now=points, last_at=tally.last_at, count=tally.count))
    return contributions


def scores_at(state: LeadState, model: ScoringModel, at: float, fit: float | None = None) -> Scores:
    """The lead's scores at ``at``; ``fit``, when the caller already assessed it, saves doing it again."""
    sums = dict.fromkeys(Component, 0.0)
    product = 0.0
    for contribution in contributions_at(state, model, at):
        sums[model.rule(contribution.kind).component] += contribution.points_now
        if contribution.kind in model.qualification.product_signals:
            product += contribution.points_now
    return Scores(
        interest=sums[Component.INTEREST],
        intent=sums[Component.INTENT],
        negative=sums[Component.NEGATIVE],
        product=product,
        fit=assess_fit(state.profile, model.fit).score if fit is None else fit,
    )


def assess(state: LeadState, model: ScoringModel, at: float) -> Assessment:
    """Everything that decides the lead's stage and temperature at ``at``."""
    fit = assess_fit(state.profile, model.fit)
    return Assessment(
        scores=scores_at(state, model, at, fit.score),
        fit=fit,
        criteria=criteria_status(state.answers, model.criteria.framework),
        need=model.criteria.framework.need,
        disqualified_by=disqualifications(state.profile, state.seen, model.disqualify),
    )


def top_contributions(state: LeadState, model: ScoringModel, at: float) -> tuple[Contribution, ...]:
    """The largest positive contributions, most recent first among equals."""
    positive = (
        c for c in contributions_at(state, model, at)
        if c.points_now > 0.0 and model.rule(c.kind).component is not Component.NEGATIVE
    )
    ranked = sorted(positive, key=lambda c: (-c.points_now, -c.last_at, c.kind.value))
    return tuple(ranked[: model.top_reasons])
