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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scoring.kinds import Component
from scoring.model import ScoringModel
from scoring.state import LeadState

PRECISION_S = 0.0005
MAX_HORIZON_S = 2.0**40  # ~35,000 years: a score that never falls below its threshold


@dataclass(frozen=True)
class Term:
    weight: float  # points · decayed count at the lead's as-of time
    half_life_s: float
    cap: float | None
    sign: float = 1.0

    def at(self, elapsed_s: float) -> float:
        value = self.weight * 2.0 ** (-elapsed_s / self.half_life_s)
        return self.sign * (min(value, self.cap) if self.cap is not None else value)


def terms(state: LeadState, model: ScoringModel, measure: str) -> list[Term]:
    """The decaying terms of one measure: interest, intent, product or engagement."""
    found = []
    for kind, tally in state.tallies.items():
        rule = model.signals.get(kind)
        if rule is None or tally.decayed <= 0.0:
            continue
        component = rule.component
        counts = {
            "interest": component is Component.INTEREST,
            "intent": component is Component.INTENT,
            "product": kind in model.qualification.product_signals,
            "engagement": True,
        }[measure]
        if counts:
            sign = -1.0 if component is Component.NEGATIVE else 1.0
            if measure != "engagement" and sign < 0:
                continue
            found.append(Term(rule.points * tally.decayed, model.half_life_of(kind), rule.cap, sign))
    return found


def crossing_time(parts: Sequence[Term], threshold: float, start: float) -> float | None:
    """The first time after ``start`` at which the sum falls below ``threshold``, or None if never."""
    def total(elapsed: float) -> float:
        return sum(term.at(elapsed) for term in parts)

    if total(0.0) < threshold:
        return start
    if threshold <= 0.0:
        return None  # a sum of fading positive terms never drops below zero
    if len(parts) == 1 and parts[0].sign > 0 and (parts[0].cap is None or parts[0].cap > parts[0].weight):
        # Closed form: weight · 2^(−t/h) = threshold.
        only = parts[0]
        return start + only.half_life_s * math.log2(only.weight / threshold)
    return start + _bisect(total, threshold)


def _bisect(total: Callable[[float], float], threshold: float) -> float:
    high = 60.0
    while total(high) >= threshold:
        high *= 2.0
        if high > MAX_HORIZON_S:
            return math.inf
    low = 0.0
    while high - low > PRECISION_S:
        middle = (low + high) / 2.0
        if total(middle) >= threshold:
            low = middle
        else:
            high = middle
    return high


def next_demotion(state: LeadState, model: ScoringModel) -> float | None:
    """The earliest time a rung the lead stands on gives way (it may then change stage or temperature)."""
    if state.as_of is None:
        return None
    ladders = model.qualification.ladders
    held = (("interest", state.levels.mql, ladders.mql), ("intent", state.levels.sql, ladders.sql),
            ("product", state.levels.pql, ladders.pql), ("engagement", state.levels.warm, ladders.warm))
    times = [
        crossing_time(terms(state, model, measure), rung.demote, state.as_of)
        for measure, level, rung in held
        if level
    ]
    finite = [t for t in times if t is not None and math.isfinite(t)]
    return min(finite) if finite else None
