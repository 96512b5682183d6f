"""When a lead's decaying scores will cross the demotion thresholds it currently holds.

Each score is a sum of terms ``min(points · count · 2^(−(t − as_of)/half_life), cap)``, each
non-increasing in t, so the sum is too and its downward crossing of a threshold is unique:
closed form for a single uncapped term, a bracketed bisection otherwise (exact to well under a
millisecond). Engagement subtracts the negative component, which can make it rise as negatives
fade; the bisection still finds a time at which it is below the threshold, and the stream
re-checks at that time, so a demotion is never emitted early.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from scoring.kinds import Component
from scoring.model import ScoringModel
from scoring.state import LeadState

PRECISION_S = 0.0005
MAX_HORIZON_S = 2.0**40  # ~35,000 years: a score that never falls below its threshold
MEASURES = ("interest", "intent", "product", "engagement")


class Term(NamedTuple):
    weight: float  # points · decayed count at the lead's as-of time
    half_life_s: float
    cap: float | None
    sign: float = 1.0

    def at(self, elapsed_s: float) -> float:
        value = self.weight * 2.0 ** (-elapsed_s / self.half_life_s)
        return self.sign * (min(value, self.cap) if self.cap is not None else value)


def terms(state: LeadState, model: ScoringModel, measure: str) -> list[Term]:
    """The decaying terms of one measure: interest, intent, product or engagement."""
    return _all_terms(state, model)[MEASURES.index(measure)]


def _all_terms(state: LeadState, model: ScoringModel) -> tuple[list[Term], ...]:
    """The terms of every measure, in one pass over the tallies (each list in tally order)."""
    interest: list[Term] = []
    intent: list[Term] = []
    product: list[Term] = []
    engagement: list[Term] = []
    product_signals = model.qualification.product_signals
    for kind, tally in state.tallies.items():
        rule = model.signals.get(kind)
        if rule is None or tally.decayed <= 0.0:
            continue
        component = rule.component
        if component is Component.NEGATIVE:
            engagement.append(Term(rule.points * tally.decayed, model.half_life_seconds[component], rule.cap, -1.0))
            continue
        term = Term(rule.points * tally.decayed, model.half_life_seconds[component], rule.cap, 1.0)
        (interest if component is Component.INTEREST else intent).append(term)
        if kind in product_signals:
            product.append(term)
        engagement.append(term)
    return interest, intent, product, engagement


def _total(parts: Sequence[Term], elapsed: float) -> float:
    """Σ term.at(elapsed), inlined: the bisection evaluates it some fifty times per crossing."""
    return sum([sign * (min(value, cap) if cap is not None else value)
                for weight, half_life_s, cap, sign in parts
                for value in (weight * 2.0 ** (-elapsed / half_life_s),)])


def crossing_time(parts: Sequence[Term], threshold: float, start: float) -> float | None:
    """The first time after ``start`` at which the sum falls below ``threshold``, or None if never."""
    if _total(parts, 0.0) < threshold:
        return start
    if threshold <= 0.0:
        return None  # a sum of fading positive terms never drops below zero
    if len(parts) == 1 and parts[0].sign > 0 and (parts[0].cap is None or parts[0].cap > parts[0].weight):
        # Closed form: weight · 2^(−t/h) = threshold.
        only = parts[0]
        return start + only.half_life_s * math.log2(only.weight / threshold)
    return start + _bisect(parts, threshold)


def _bisect(parts: Sequence[Term], threshold: float) -> float:
    high = 60.0
    while _total(parts, high) >= threshold:
        high *= 2.0
        if high > MAX_HORIZON_S:
            return math.inf
    low = 0.0
    while high - low > PRECISION_S:
        middle = (low + high) / 2.0
        if _total(parts, middle) >= threshold:
            low = middle
        else:
            high = middle
    return high


def next_demotion(state: LeadState, model: ScoringModel) -> float | None:
    """The earliest time a rung the lead stands on gives way (it may then change stage or temperature)."""
    levels = state.levels
    if state.as_of is None or not (levels.mql or levels.sql or levels.pql or levels.warm):
        return None
    ladders = model.qualification.ladders
    interest, intent, product, engagement = _all_terms(state, model)
    held = ((interest, levels.mql, ladders.mql), (intent, levels.sql, ladders.sql),
            (product, levels.pql, ladders.pql), (engagement, levels.warm, ladders.warm))
    times = [crossing_time(parts, rung.demote, state.as_of) for parts, level, rung in held if level]
    finite = [t for t in times if t is not None and math.isfinite(t)]
    return min(finite) if finite else None
