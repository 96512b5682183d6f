"""Fitting signal weights and thresholds to won and lost deals, and measuring the candidate honestly.

1. Replay the history under the current model; every lead whose deal closed (won or lost) is
   one example: the decayed count of each signal kind at its last scored event before the deal
   closed (capped as the model caps it), labelled won or lost.
2. Split by time: the deals that closed last (``holdout`` of them) are kept out of the fit.
3. Fit an L2-regularised logistic regression of "won" on those counts (Newton's method: about
   twenty features, so exact in a few steps, no numerical library needed).
4. Turn coefficients into points component by component: a kind's new points are proportional
   to its coefficient (a kind that predicts losing gets none), scaled so the component's average
   score over the examples stays what it is now; thresholds keep their meaning, the points move
   to what predicts a win. Caps scale with their points. Kinds seen too rarely keep their points.
5. Move the `mql` (interest) and `sql` (intent: what a hot lead needs) promote thresholds to
   where the new scores best separate won from lost (Youden's J), within half and twice the current value; demote keeps its ratio to promote.
6. Replay the held-out deals' leads under both models: precision and recall of "was hot before
   the deal closed" is the expected lift, never measured on the deals it was fitted on. Hot is
   the model's call to hand a lead to sales; SQL is sales' own (acceptance, a CRM opportunity),
   the same under any model, so it cannot tell two models apart.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from scoring.errors import CalibrationError
from scoring.kinds import Component, DealOutcome, SignalKind
from scoring.model import ScoringModel, SignalRule
from scoring.model_loading import parse_model
from scoring.model_text import number_text, with_numbers, with_version
from scoring.outcomes import OutcomeJoin, StageVerdict, first_closings, hot_verdict
from scoring.replay import UNBOUNDED, HistoryRecord, replay
from scoring.stages import Rung
from scoring.visitors import HoldLimits


@dataclass(frozen=True)
class Options:
    holdout: float = 0.3  # share of closed deals, the latest by close time, kept out of the fit
    l2: float = 1.0  # ridge penalty on the coefficients (not the intercept)
    min_support: int = 5  # a kind must occur in this many training examples to be refitted
    min_per_class: int = 5  # won and lost deals each slice needs at least
    fit_thresholds: bool = True


@dataclass(frozen=True)
class Example:
    lead_id: str
    closed_at: float
    won: bool
    features: Mapping[SignalKind, float]  # capped decayed count per kind


@dataclass(frozen=True)
class Calibration:
    current: ScoringModel
    candidate: ScoringModel
    candidate_text: str
    coefficients: Mapping[SignalKind, float]  # log-odds of winning per capped occurrence
    points: Mapping[SignalKind, tuple[float, float]]  # kind -> (current, candidate) points
    rungs: Mapping[str, tuple[Rung, Rung]]  # rung name -> (current, candidate)
    trained_on: int
    held_out: int
    split_at: float  # deals closed from here on were held out
    live: StageVerdict  # hot before the deal closed, on the held-out deals
    proposed: StageVerdict

    @property
    def precision_lift(self) -> float | None:
        """Relative change in the share of hot leads that won, on the held-out deals."""
        if self.live.precision is None or self.proposed.precision is None or self.live.precision == 0:
            return None
        return self.proposed.precision / self.live.precision - 1.0


def calibrate(
    history: Sequence[HistoryRecord], model: ScoringModel, model_text: str, options: Options = Options(),
    erased: frozenset[str] = frozenset(), hold: HoldLimits = UNBOUNDED,
) -> Calibration:
    live = replay(history, model, erased=erased, hold=hold)
    examples = examples_from(live.outcomes, model)
    training, held_out, split_at = split_by_time(examples, options)
    kinds = sorted({k for e in training for k, v in e.features.items() if v > 0}
                   - model.disqualify.signals)
    kinds = [k for k in kinds if sum(1 for e in training if e.features.get(k, 0.0) > 0) >= options.min_support]
    coefficients = fit_logistic(training, kinds, options.l2)
    points = candidate_points(model, coefficients, training)
    rungs = candidate_rungs(model, points, training) if options.fit_thresholds else {}
    text = candidate_text(model_text, model, points, rungs)
    candidate = parse_model(text, source="candidate")

    held_leads = {e.lead_id for e in held_out}
    live_verdict = hot_verdict(j for j in live.outcomes if j.lead_id in held_leads)
    # All of it: a held-out lead's visits from before identify are records of its visitor id.
    replayed = replay(history, candidate, erased=erased, hold=hold)
    return Calibration(
        current=model, candidate=candidate, candidate_text=text,
        coefficients=MappingProxyType(coefficients),
        points=MappingProxyType({k: (model.rule(k).points, points[k].points) for k in points}),
        rungs=MappingProxyType({name: (getattr(model.qualification.ladders, name), rung)
                                for name, rung in rungs.items()}),
        trained_on=len(training), held_out=len(held_out), split_at=split_at,
        live=live_verdict, proposed=hot_verdict(j for j in replayed.outcomes if j.lead_id in held_leads),
    )


def capped_count(count: float, rule: SignalRule) -> float:
    """The count the model can still score: beyond its cap, more occurrences add nothing."""
    if rule.cap is not None and rule.points > 0:
        return min(count, rule.cap / rule.points)
    return count


def examples_from(joins: Sequence[OutcomeJoin], model: ScoringModel) -> list[Example]:
    examples = []
    for closing in first_closings(joins).values():
        if closing.stage is None:
            continue  # a deal for a lead the history never scored: nothing to learn from
        features = {kind: capped_count(count, model.rule(kind))
                    for kind, count in closing.counts.items() if kind in model.signals and count > 0}
        examples.append(Example(closing.lead_id, closing.at, closing.outcome is DealOutcome.WON,
                                MappingProxyType(features)))
    return sorted(examples, key=lambda e: (e.closed_at, e.lead_id))


def split_by_time(examples: Sequence[Example], options: Options) -> tuple[list[Example], list[Example], float]:
    """The earlier deals to fit on, the later ones to measure on, and the close time between them."""
    ordered = sorted(examples, key=lambda e: (e.closed_at, e.lead_id))
    if not ordered:
        raise CalibrationError("the history holds no won or lost deal for a scored lead: nothing to fit")
    split_at = ordered[min(len(ordered) - 1, int(len(ordered) * (1.0 - options.holdout)))].closed_at
    training = [e for e in ordered if e.closed_at < split_at]
    held_out = [e for e in ordered if e.closed_at >= split_at]
    for name, part in (("fitted", training), ("held-out", held_out)):
        won = sum(e.won for e in part)
        if won < options.min_per_class or len(part) - won < options.min_per_class:
            raise CalibrationError(
                f"the {name} slice has {won} won and {len(part) - won} lost deals; each slice needs at least"
                f" {options.min_per_class} of each: export a longer history or lower --holdout"
            )
    return training, held_out, split_at


def fit_logistic(examples: Sequence[Example], kinds: Sequence[SignalKind], l2: float,
                 iterations: int = 50) -> dict[SignalKind, float]:
    """Coefficients of P(won) = σ(b + Σ w_k x_k), minimising log-loss + l2/2 · |w|² (Newton-Raphson)."""
    width = len(kinds) + 1  # column 0 is the intercept
    rows = [[(0, 1.0)] + [(i + 1, e.features[k]) for i, k in enumerate(kinds) if e.features.get(k, 0.0)]
            for e in examples]
    labels = [1.0 if e.won else 0.0 for e in examples]
    theta = [0.0] * width
    for _ in range(iterations):
        gradient = [l2 * theta[j] if j else 0.0 for j in range(width)]
        hessian = [[(l2 if i == j and i else 0.0) for j in range(width)] for i in range(width)]
        for row, label in zip(rows, labels):
            p = _sigmoid(sum(theta[j] * x for j, x in row))
            weight = max(p * (1.0 - p), 1e-12)
            for i, xi in row:
                gradient[i] += (p - label) * xi
                for j, xj in row:
                    hessian[i][j] += weight * xi * xj
        step = _solve(hessian, gradient)
        theta = [t - s for t, s in zip(theta, step)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return {kind: theta[i + 1] for i, kind in enumerate(kinds)}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the Hessian is positive definite with l2 > 0)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-15:
            raise CalibrationError("the deals cannot separate these signals (singular fit): raise --l2")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            if factor:
                for c in range(col, n + 1):
                    a[r][c] -= factor * a[col][c]
    solution = [0.0] * n
    for r in range(n - 1, -1, -1):
        solution[r] = (a[r][n] - sum(a[r][c] * solution[c] for c in range(r + 1, n))) / a[r][r]
    return solution


def candidate_points(model: ScoringModel, coefficients: Mapping[SignalKind, float],
                     examples: Sequence[Example]) -> dict[SignalKind, SignalRule]:
    """New rules for the fitted kinds: points ∝ coefficient, each component's average score kept."""
    rules: dict[SignalKind, SignalRule] = {}
    for component in Component:
        fitted = [k for k in coefficients if model.rule(k).component is component]
        sign = -1.0 if component is Component.NEGATIVE else 1.0  # negatives predict losing: that is their job
        raw = {k: max(sign * coefficients[k], 0.0) for k in fitted}
        mean = {k: sum(e.features.get(k, 0.0) for e in examples) / len(examples) for k in fitted}
        now = sum(model.rule(k).points * mean[k] for k in fitted)
        proposed = sum(raw[k] * mean[k] for k in fitted)
        if now <= 0.0 or proposed <= 0.0:
            continue  # no kind of this component predicts the outcome: leave it as it is
        for kind in fitted:
            rule = model.rule(kind)
            points = round(raw[kind] * now / proposed, 1)
            cap = rule.cap
            if cap is not None and rule.points > 0 and points > 0:
                cap = max(round(cap * points / rule.points, 1), 0.1)  # the same number of occurrences
            rules[kind] = SignalRule(kind, component, points, cap)
    return rules


def component_score(features: Mapping[SignalKind, float], rules: Mapping[SignalKind, SignalRule],
                    component: Component) -> float:
    total = 0.0
    for kind, count in features.items():
        rule = rules[kind]
        if rule.component is component:
            points = rule.points * count
            total += min(points, rule.cap) if rule.cap is not None else points
    return total


def candidate_rungs(model: ScoringModel, points: Mapping[SignalKind, SignalRule],
                    examples: Sequence[Example]) -> dict[str, Rung]:
    """MQL (interest) and SQL (intent) promote thresholds where the new scores separate won from lost best."""
    rules = {**model.signals, **points}
    ladders = model.qualification.ladders
    rungs = {}
    for name, rung, component in (("mql", ladders.mql, Component.INTEREST), ("sql", ladders.sql, Component.INTENT)):
        scores = [(component_score(e.features, rules, component), e.won) for e in examples]
        promote = _best_threshold(scores, rung.promote)
        promote = round(promote, 1)
        if promote != rung.promote:
            rungs[name] = Rung(promote=promote, demote=round(promote * rung.demote / rung.promote, 1))
    return rungs


def _best_threshold(scores: Sequence[tuple[float, bool]], current: float) -> float:
    won = sum(1 for _, w in scores if w) or 1
    lost = sum(1 for _, w in scores if not w) or 1
    low, high = current / 2.0, current * 2.0
    candidates = sorted({current, *(s for s, _ in scores if low <= s <= high)})

    def youden(threshold: float) -> float:
        hits = sum(1 for s, w in scores if w and s >= threshold - 1e-9)
        false_alarms = sum(1 for s, w in scores if not w and s >= threshold - 1e-9)
        return hits / won - false_alarms / lost

    return max(candidates, key=lambda t: (round(youden(t), 9), -abs(t - current)))


def candidate_text(text: str, model: ScoringModel, points: Mapping[SignalKind, SignalRule],
                   rungs: Mapping[str, Rung]) -> str:
    """The current file with the new numbers and a version naming what it was calibrated from."""
    for kind, rule in sorted(points.items()):
        values = {"points": rule.points}
        if rule.cap is not None and rule.cap != model.rule(kind).cap:
            values["cap"] = rule.cap
        text = with_numbers(text, "signals", kind, values)
    for name, rung in sorted(rungs.items()):
        text = with_numbers(text, "thresholds", name, {"promote": rung.promote, "demote": rung.demote})
    fingerprint = ";".join(
        [f"{k}={number_text(r.points)}/{r.cap}" for k, r in sorted(points.items())]
        + [f"{n}={r.promote}/{r.demote}" for n, r in sorted(rungs.items())]
    )
    digest = hashlib.blake2b(fingerprint.encode(), digest_size=4).hexdigest()
    base = re.sub(r"-calibrated-[0-9a-f]{8}$", "", model.version)  # a recalibration names its root
    return with_version(text, f"{base}-calibrated-{digest}")
