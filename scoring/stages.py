"""Lifecycle stages, temperatures, and ladders with hysteresis.

A ladder is an ordered list of rungs. Climbing a rung needs the score to reach its
``promote`` threshold; falling back needs it to drop below the lower ``demote``
threshold, so a score hovering around one threshold does not flap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Stage(str, Enum):
    """Where a lead stands in the funnel."""

    NEW = "new"  # seen, but no contact details yet
    IQL = "iql"  # information-qualified: gave contact details
    RECYCLED = "recycled"  # was qualified, cooled: back to nurturing
    MQL = "mql"  # marketing-qualified: sustained interest and fits the ICP
    PQL = "pql"  # product-qualified: product usage shows buying intent
    SQL = "sql"  # sales-qualified: intent and every criterion met — hand to sales now
    DISQUALIFIED = "disqualified"  # competitor, student, out of market, hard bounce


# How far along each stage is; a move to a lower rank from a qualified stage is a recycle.
STAGE_RANK = {Stage.NEW: 0, Stage.IQL: 1, Stage.RECYCLED: 1, Stage.MQL: 2, Stage.PQL: 3, Stage.SQL: 4}
QUALIFIED = frozenset({Stage.MQL, Stage.PQL, Stage.SQL})
# The order the funnel is shown in (the board, the dev terminal): along the funnel, then the two ways out of it.
FUNNEL_ORDER = (Stage.NEW, Stage.IQL, Stage.MQL, Stage.PQL, Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED)


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
