"""Sales owns SQL: what sales said about a lead, and how long it holds.

Behaviour and fit make a lead marketing-qualified and hot; sales makes it sales-qualified, by
accepting it (feedback, or a CRM opportunity) or by confirming every criterion of the framework
while its fit is known and good. It then stays SQL until sales rejects or recycles it, a deal
closes, or the lead goes quiet for the model's inactivity bound. A rejection holds the lead back
(never hot, never qualified) for a cooldown, and after it until new intent reaches a minimum:
the signals sales already saw must not hand the lead back to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scoring.criteria import Answer, Framework, Status
from scoring.kinds import Component, SignalKind

WEEK_S = 7 * 86_400.0


@dataclass(frozen=True)
class SalesRules:
    inactivity_bound_s: float  # a sales-qualified lead silent this long stops being SQL
    rejection_cooldown_s: float  # a rejected lead is held back at least this long
    renewed_intent_minimum: float  # ... and until the intent it shows after the rejection reaches this


# What a model file without a [sales] section gets: eight weeks, thirty days, a demo request's worth.
DEFAULT_SALES = SalesRules(inactivity_bound_s=8 * WEEK_S, rejection_cooldown_s=30 * 86_400.0,
                           renewed_intent_minimum=30.0)


def criteria_confirmed_at(answers: Mapping[str, Answer], framework: Framework) -> float | None:
    """When the last of the framework's criteria was answered met, if every one of them is."""
    held = [answers.get(criterion) for criterion in framework.criteria]
    if not held or any(answer is None or answer.status is not Status.MET for answer in held):
        return None
    return max(answer.stated_at for answer in held if answer is not None)


def qualified_since(accepted_at: float | None, confirmed_at: float | None, ended_at: float | None) -> float | None:
    """When sales last qualified the lead, if that is still in force (later than the last end)."""
    times = [t for t in (accepted_at, confirmed_at) if t is not None and (ended_at is None or t > ended_at)]
    return max(times) if times else None


def sql_expires_at(since: float, active_at: float | None, rules: SalesRules) -> float:
    """The inactivity bound runs from the later of the qualification and the lead's latest own event."""
    return max(since, active_at if active_at is not None else since) + rules.inactivity_bound_s


def renewed_intent(renewed: Mapping[SignalKind, int], signals: Mapping[SignalKind, Any]) -> float:
    """Intent points shown since the rejection (undecayed, each kind capped): counts held, points read now."""
    total = 0.0
    for kind, count in renewed.items():
        rule = signals.get(kind)
        if rule is None or rule.component is not Component.INTENT:
            continue
        points = rule.points * count
        total += min(points, rule.cap) if rule.cap is not None else points
    return total


def held_back(rejected_at: float | None, renewed: Mapping[SignalKind, int], signals: Mapping[SignalKind, Any],
              rules: SalesRules, at: float) -> bool:
    if rejected_at is None:
        return False
    return at < rejected_at + rules.rejection_cooldown_s or renewed_intent(renewed, signals) < rules.renewed_intent_minimum


def hold_lifts_at(rejected_at: float | None, renewed: Mapping[SignalKind, int], signals: Mapping[SignalKind, Any],
                  rules: SalesRules) -> float | None:
    """When the cooldown ends for a lead that has already shown enough new intent: a scheduled reclassification."""
    if rejected_at is None or renewed_intent(renewed, signals) < rules.renewed_intent_minimum:
        return None
    return rejected_at + rules.rejection_cooldown_s
