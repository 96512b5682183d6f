"""Switching a lead's held state to another model: exact for weights, refused for half-lives.

Held state is decayed counts per signal kind (never points), so new points, caps and thresholds
apply to it exactly: the lead is re-classified under the new model at the moment it was last
classified (its as-of time), and demotions due since then follow at their crossing times. Its
counts were decayed with the old half-lives, though; a model with other half-lives needs the
history replayed to rebuild them.
"""

from __future__ import annotations

from msgspec.structs import replace

from scoring.engine import Decision, step
from scoring.kinds import Component
from scoring.model import SECONDS_PER_DAY, ScoringModel
from scoring.signals import Signal
from scoring.state import LeadState


def half_life_change(current: ScoringModel, candidate: ScoringModel) -> str | None:
    """What makes ``candidate`` unable to take over held state from ``current``, or None."""
    changed = [
        f"{component.value} {current.half_life_seconds[component] / SECONDS_PER_DAY:g} → "
        f"{candidate.half_life_seconds[component] / SECONDS_PER_DAY:g} days"
        for component in Component
        if current.half_life_seconds[component] != candidate.half_life_seconds[component]
    ]
    if changed:
        return (f"its half-lives differ ({', '.join(changed)}): held scores were decayed with the old ones, so"
                " switching needs a replay")
    # A signal moved to a component that fades at another rate: its held counts were decayed at the old one.
    moved = [
        f"{kind} {rule.component.value} → {candidate.signals[kind].component.value}"
        for kind, rule in sorted(current.signals.items())
        if kind in candidate.signals and candidate.half_life_of(kind) != current.half_life_of(kind)
    ]
    if moved:
        return (f"signals change component and so half-life ({', '.join(moved)}): held counts were decayed with"
                " the old one, so switching needs a replay")
    return None


def reclassify_under(state: LeadState, model: ScoringModel, cause_id: str) -> Decision:
    """``state`` classified under ``model`` at its own as-of time; a change, if any, is caused by ``cause_id``."""
    if state.as_of is None:
        return Decision(state=replace(state, model_version=model.version), change=None, duplicate=False)
    now = Signal(event_id=cause_id, lead_id=state.lead_id, anonymous=not state.identified, kind=None,
                 occurred_at=state.as_of)
    switched = step(state, now, model, cause="model")
    # Its journal was classified under the old model: re-derivations start from the switched state.
    return replace(switched, state=replace(switched.state, journal=None))
