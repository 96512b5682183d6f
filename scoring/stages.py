"""Lifecycle stages, temperatures, and classification with hysteresis.

A ladder is an ordered list of rungs. Climbing a rung needs the score to reach its
``promote`` threshold; falling back needs it to drop below the lower ``demote``
threshold, so a score hovering around one threshold does not flap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Stage(str, Enum):
    """Where a lead stands in the funnel, in order."""

    NEW = "new"  # seen, but no contact details yet
    IQL = "iql"  # information-qualified: gave contact details
    MQL = "mql"  # marketing-qualified: sustained interest
    SQL = "sql"  # sales-qualified: hand to sales now


class Temperature(str, Enum):
    """How urgently sales should act, in order."""

    COLD = "cold"
    WARM = "warm"
    HOT = "hot"


@dataclass(frozen=True)
class Rung:
    """One step of a ladder: reach ``promote`` to climb it, drop below ``demote`` to fall off."""

    promote: float
    demote: float


def climb(level: int, score: float, rungs: Sequence[Rung]) -> int:
    """Return the ladder level for ``score``, starting from the current ``level``.

    Level 0 is the bottom; level i (i ≥ 1) is reached through ``rungs[i - 1]``.
    """
    while level < len(rungs) and score >= rungs[level].promote:
        level += 1
    while level > 0 and score < rungs[level - 1].demote:
        level -= 1
    return level


TEMPERATURE_ORDER: tuple[Temperature, ...] = tuple(Temperature)
STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


def classify_temperature(current: Temperature, score: float, rungs: Sequence[Rung]) -> Temperature:
    """Cold, warm or hot for ``score``, with hysteresis from ``current``; rungs are warm then hot."""
    return TEMPERATURE_ORDER[climb(TEMPERATURE_ORDER.index(current), score, rungs)]


def classify_stage(
    current: Stage, score: float, identified: bool, rungs: Sequence[Rung]
) -> Stage:
    """The lifecycle stage for ``score``; rungs are MQL then SQL.

    An unidentified lead stays NEW whatever it scores: sales cannot call a visitor.
    """
    if not identified:
        return Stage.NEW
    # Levels above IQL are the score ladder; IQL is its floor for an identified lead.
    current_level = max(STAGE_ORDER.index(current) - 1, 0)
    return STAGE_ORDER[1 + climb(current_level, score, rungs)]
