"""When a lead's decaying scores will cross the demotion thresholds it currently holds.

Each score is a sum of terms ``min(points · count · 2^(−(t − as_of)/half_life), cap)``, each
non-increasing in t, so the sum is too and its downward crossing of a threshold is unique:
closed form for a single uncapped term, a bisection otherwise (exact to well under a
millisecond; a Newton estimate spares it evaluating the sum at all but a few midpoints).
Engagement subtracts the negative component, which can make it rise as negatives fade; the
bisection still finds a time at which it is below the threshold, and the stream re-checks at
that time, so a demotion is never emitted early.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from scoring.engine import sales_qualified_until
from scoring.explain import assess
from scoring.kinds import Component
from scoring.model import ScoringModel
from scoring.sales import hold_lifts_at
from scoring.stages import Rung, Stage
from scoring.state import LeadState

PRECISION_S = 0.0005
MAX_HORIZON_S = 2.0**40  # ~35,000 years: a score that never falls below its threshold
MEASURES = ("interest", "intent", "product", "engagement")
# The replayed bisection evaluates the sum only between these bounds around the estimate: a
# bracket narrower than PRECISION_S holds one or two of its midpoints.
BRACKET_HALF_WIDTH_S = 0.0001
BRACKET_WIDENINGS = 4
BRACKET_MARGIN = 1e-12
NEWTON_STEPS = 60
NEWTON_SETTLED_S = 0.00001
FLOOR_MARGIN = 1e-9  # relative and absolute: a score's floor this close to a threshold gets its crossing found
LN2 = math.log(2.0)
# On Python 3.11 reading a member through its enum class calls a descriptor: loops hold them here.
_NEGATIVE, _INTEREST = Component.NEGATIVE, Component.INTEREST


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
        if component is _NEGATIVE:
            engagement.append(Term(rule.points * tally.decayed, model.half_life_seconds[component], rule.cap, -1.0))
            continue
        term = Term(rule.points * tally.decayed, model.half_life_seconds[component], rule.cap, 1.0)
        (interest if component is _INTEREST else intent).append(term)
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
    # Stored demotion times are the exact float this bisection lands on, so a faster search must
    # land on the same one: replay the bisection, deciding each midpoint outside a tight proven
    # bracket of the crossing by comparison alone. Negative terms can make the sum rise again,
    # so only sums of positive fading terms are bracketed.
    if all(sign > 0.0 and weight > 0.0 and (cap is None or cap > 0.0) for weight, _, cap, sign in parts):
        bracket = _bracket(parts, threshold)
        if bracket is not None:
            still_above, already_below = bracket
            return _bisection(lambda elapsed: elapsed <= still_above or (
                elapsed < already_below and _total(parts, elapsed) >= threshold))
    return _bisection(lambda elapsed: _total(parts, elapsed) >= threshold)


def _bisection(holds: Callable[[float], bool]) -> float:
    """The first time, to within PRECISION_S, at which ``holds`` (true at 0, then false) turns false."""
    high = 60.0
    while holds(high):
        high *= 2.0
        if high > MAX_HORIZON_S:
            return math.inf
    low = 0.0
    while high - low > PRECISION_S:
        middle = (low + high) / 2.0
        if holds(middle):
            low = middle
        else:
            high = middle
    return high


def _bracket(parts: Sequence[Term], threshold: float) -> tuple[float, float] | None:
    """(a, b) with the computed sum at or above ``threshold`` up to a and below it from b on; None if not proven.

    Each side is checked on the very sum the bisection computes, with a relative margin far wider
    than the few ulps by which rounding could make that fading sum rise between two times.
    """
    try:
        estimate = _newton_crossing(parts, threshold)
        if estimate is None:
            return None
        half_width = BRACKET_HALF_WIDTH_S
        for _ in range(BRACKET_WIDENINGS):
            still_above, already_below = estimate - half_width, estimate + half_width
            if (_total(parts, still_above) >= threshold * (1.0 + BRACKET_MARGIN)
                    and _total(parts, already_below) < threshold * (1.0 - BRACKET_MARGIN)):
                return still_above, already_below
            half_width *= 16.0
    except (ArithmeticError, ValueError):  # a step far outside the range the terms can be raised over
        return None
    return None


def _newton_crossing(parts: Sequence[Term], threshold: float) -> float | None:
    """Where the sum of fading terms meets ``threshold``: Newton's method on its logarithm.

    Between the times at which capped terms start to fade, the logarithm of the sum is convex, so
    each step lands at or before the crossing; a step stops at the next such time, where the sum
    starts to fall faster. None if it does not settle (the caller then bisects in full).
    """
    log_threshold = math.log(threshold)
    elapsed = 0.0
    for _ in range(NEWTON_STEPS):
        total = slope = 0.0
        next_fading = math.inf
        for weight, half_life_s, cap, _ in parts:
            value = weight * 2.0 ** (-elapsed / half_life_s)
            if cap is not None and value >= cap:
                fading_at = half_life_s * math.log2(weight / cap)
                if fading_at > elapsed:
                    total += cap
                    next_fading = min(next_fading, fading_at)
                    continue
                value = cap  # at its cap by rounding only: it fades from here
            total += value
            slope += value * LN2 / half_life_s
        if total <= 0.0:
            return None  # every term underflowed: no logarithm to follow
        newton_step = (math.log(total) - log_threshold) * total / slope if slope else math.inf
        if elapsed + newton_step >= next_fading:
            if math.isinf(next_fading):
                return None
            elapsed = next_fading
            continue
        elapsed += newton_step
        if elapsed > MAX_HORIZON_S:
            return None
        if abs(newton_step) <= NEWTON_SETTLED_S:
            return elapsed
    return None


def next_demotion(state: LeadState, model: ScoringModel) -> float | None:
    """The earliest time the lead may change stage or temperature with no event: a rung it stands on
    gives way, its sales qualification passes the inactivity bound, or a rejection's hold lifts."""
    if state.as_of is None:
        return None
    return _earliest([*_rung_crossings(state, model), *_timed_changes(state, model)])


def demotion_due_by(state: LeadState, model: ScoringModel, now: float) -> float | None:
    """``next_demotion`` if it falls due by ``now``, else None.

    Replaying a lead's journal asks this before each of its inputs. A rung whose score's floor over
    the gap clears its demote threshold cannot give way by then, so its crossing is never searched for.
    """
    if state.as_of is None:
        return None
    elapsed, factors = max(now - state.as_of, 0.0), {}
    rungs = [_crossing(parts, rung, state.as_of) for parts, rung in _held_rungs(state, model)
             if _floor(parts, elapsed, factors) < rung.demote * (1.0 + FLOOR_MARGIN) + FLOOR_MARGIN]
    due = _earliest([*rungs, *_timed_changes(state, model)])
    return due if due is not None and due <= now else None


def _floor(parts: Sequence[Term], elapsed: float, factors: dict[float, float]) -> float:
    """The lowest the sum can reach within ``elapsed``: positive terms fade, so at its end; negative ones
    fade too, so at its start. ``factors`` keeps each half-life's decay factor, worked out once."""
    total = 0.0
    for weight, half_life_s, cap, sign in parts:
        value = weight
        if sign > 0.0:
            factor = factors.get(half_life_s)
            if factor is None:
                factor = factors[half_life_s] = 2.0 ** (-elapsed / half_life_s)
            value = weight * factor
        total += sign * (min(value, cap) if cap is not None else value)
    return total


def _timed_changes(state: LeadState, model: ScoringModel) -> list[float | None]:
    times: list[float | None] = []
    if state.stage is Stage.SQL:
        times.append(sales_qualified_until(state, assess(state, model, state.as_of), model))
    lifts = hold_lifts_at(state.rejected_at, state.renewed, model.signals, model.sales)
    if lifts is not None and state.as_of is not None and lifts > state.as_of:
        times.append(lifts)
    return times


def _earliest(times: list[float | None]) -> float | None:
    finite = [t for t in times if t is not None and math.isfinite(t)]
    return min(finite) if finite else None


def _held_rungs(state: LeadState, model: ScoringModel) -> list[tuple[list[Term], Rung]]:
    """Each rung the lead stands on, with the terms of the score it is held on."""
    levels = state.levels
    if not (levels.mql or levels.sql or levels.pql or levels.warm or levels.hot):
        return []
    ladders = model.qualification.ladders
    interest, intent, product, engagement = _all_terms(state, model)
    held = ((interest, levels.mql, ladders.mql), (intent, levels.sql, ladders.sql),
            (product, levels.pql, ladders.pql), (engagement, levels.warm, ladders.warm),
            (interest, levels.hot, ladders.hot))
    return [(parts, rung) for parts, level, rung in held if level]


def _rung_crossings(state: LeadState, model: ScoringModel) -> list[float | None]:
    assert state.as_of is not None
    return [_crossing(parts, rung, state.as_of) for parts, rung in _held_rungs(state, model)]


def _crossing(parts: Sequence[Term], rung: Rung, as_of: float) -> float | None:
    t = crossing_time(parts, rung.demote, as_of)
    # A crossing at the as-of time itself found the score exactly on the threshold (10 points halved
    # twice onto 2.5): not below it yet, so the lead kept the rung. It is below a moment later.
    return t + PRECISION_S if t is not None and t <= as_of else t
