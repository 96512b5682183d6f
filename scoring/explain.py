"""Scores and their explanations, evaluated at a moment in time."""

from __future__ import annotations

from scoring.changes import Contribution, Scores
from scoring.criteria import criteria_status
from scoring.decay import decayed_to
from scoring.fit import assess_fit, disqualifications, fit_gates
from scoring.kinds import Component
from scoring.model import ScoringModel
from scoring.qualification import Assessment
from scoring.state import LeadState

# On Python 3.11 reading a member through its enum class calls a descriptor: loops hold them here.
_INTEREST, _INTENT = Component.INTEREST, Component.INTENT


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


def scores_at(state: LeadState, model: ScoringModel, at: float) -> Scores:
    return _scores(state, model, at, assess_fit(state.profile, model.fit).score)


def _scores(state: LeadState, model: ScoringModel, at: float, fit: float) -> Scores:
    """The sums of ``contributions_at``, in the same order (so to the same bit), without building them."""
    interest = intent = negative = product = 0.0
    if state.as_of is not None:
        elapsed = max(at, state.as_of) - state.as_of
        product_signals = model.qualification.product_signals
        rules = model.signals
        for kind, tally in state.tallies.items():
            rule = rules.get(kind)
            if rule is None:
                continue
            component = rule.component
            # decayed_to, inlined: at the as-of time itself (every apply) the factor is exactly 1.
            decayed = (tally.decayed if elapsed <= 0.0
                       else tally.decayed * 2.0 ** (-elapsed / model.half_life_seconds[component]))
            points = rule.points * decayed
            cap = rule.cap
            if cap is not None and cap < points:  # min(points, cap), without the call
                points = cap
            if component is _INTEREST:
                interest += points
            elif component is _INTENT:
                intent += points
            else:
                negative += points
            if kind in product_signals:
                product += points
    return Scores(interest=interest, intent=intent, negative=negative, product=product, fit=fit)


# The last assessment made, and what it was made of: the stream assesses a lead once to score
# it, then again at once to report it to its account. Held state never changes in place, so the
# same mapping objects at the same time under the same model give the same assessment.
_last_assessed: tuple = (None,) * 8


def assess(state: LeadState, model: ScoringModel, at: float) -> Assessment:
    """Everything that decides the lead's stage and temperature at ``at``."""
    global _last_assessed
    tallies, profile, answers, as_of, then, of_model, flagged, assessment = _last_assessed
    if (tallies is state.tallies and profile is state.profile and answers is state.answers
            and as_of == state.as_of and then == at and of_model is model and flagged == state.flagged_at):
        return assessment
    fit = assess_fit(state.profile, model.fit)
    assessment = Assessment(
        scores=_scores(state, model, at, fit.score),
        fit=fit,
        criteria=criteria_status(state.answers, model.criteria.framework),
        need=model.criteria.framework.need,
        disqualified_by=disqualifications(state.profile, state.seen, model.disqualify, state.flagged_at),
        gates=fit_gates(fit, model.fit),
    )
    _last_assessed = (state.tallies, state.profile, state.answers, state.as_of, at, model, state.flagged_at,
                      assessment)
    return assessment


def top_contributions(state: LeadState, model: ScoringModel, at: float) -> tuple[Contribution, ...]:
    """The largest positive contributions, most recent first among equals."""
    positive = (
        c for c in contributions_at(state, model, at)
        if c.points_now > 0.0 and model.rule(c.kind).component is not Component.NEGATIVE
    )
    ranked = sorted(positive, key=lambda c: (-c.points_now, -c.last_at, c.kind))
    return tuple(ranked[: model.top_reasons])
