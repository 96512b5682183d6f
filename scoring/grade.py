"""The letter grade: fit × engagement as one grade a rep reads at a glance, A1 best and C3 least.

The letter is the lead's fit (A, B or C; A best), the digit its engagement (1, 2 or 3; 1 highest),
as HubSpot grades contacts. Each boundary is a rung with hysteresis, as temperatures are
(``scoring.stages.climb``): a lead whose score hovers on a boundary keeps the side it was on, so
the grade is decided from the one it held and a lead's grade does not flap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scoring.changes import Scores
from scoring.errors import ModelError
from scoring.stages import Rung, climb

LETTERS = ("C", "B", "A")  # by fit level: 0 below every rung
DIGITS = ("3", "2", "1")  # by engagement level
# Every grade by (fit level, engagement level), built once: a grade is decided on every input.
_GRADES = tuple(tuple(letter + digit for digit in DIGITS) for letter in LETTERS)
_FIT_LEVEL = {letter: level for level, letter in enumerate(LETTERS)}
_ENGAGEMENT_LEVEL = {digit: level for level, digit in enumerate(DIGITS)}
FIT_RUNGS = ("B", "A")  # the model file's names for the fit rungs, lowest first
ENGAGEMENT_RUNGS = ("2", "1")


@dataclass(frozen=True)
class GradeRules:
    fit: tuple[Rung, Rung]  # the B rung, then the A rung: on the fit score (0–100)
    engagement: tuple[Rung, Rung]  # the 2 rung, then the 1 rung: on engagement (interest + intent − negative)


def grade_levels(grade: str | None) -> tuple[int, int]:
    """(fit level, engagement level) of a held grade; a lead that holds none starts at the bottom."""
    if grade is None:
        return 0, 0
    return _FIT_LEVEL[grade[0]], _ENGAGEMENT_LEVEL[grade[1]]


def next_grade(held: str | None, scores: Scores, rules: GradeRules) -> str:
    """The grade for ``scores``, climbing from (or falling back off) the ``held`` one."""
    fit_level, engagement_level = grade_levels(held)
    return _GRADES[climb(fit_level, scores.fit, rules.fit)][climb(engagement_level, scores.engagement,
                                                                   rules.engagement)]


def grade_rules(table: Any, rung: Callable[[Any, str], Rung]) -> GradeRules:
    """``[grade]``: ``fit`` with rungs B and A, ``engagement`` with rungs "2" and "1". ``table`` is
    ``scoring.model_loading``'s field reader and ``rung`` its rung reader (passed in: no import cycle)."""
    table.only("fit", "engagement")
    fit, engagement = table.sub("fit"), table.sub("engagement")
    fit_rungs = _ladder(fit, FIT_RUNGS, rung)
    if fit_rungs[1].promote > 100:
        raise ModelError(f"{fit.name('A')}: fit is 0–100, so promote {fit_rungs[1].promote:g} is never reached")
    return GradeRules(fit=fit_rungs, engagement=_ladder(engagement, ENGAGEMENT_RUNGS, rung))


def _ladder(table: Any, names: tuple[str, str], rung: Callable[[Any, str], Rung]) -> tuple[Rung, Rung]:
    table.only(*names)
    lower, upper = (rung(table, name) for name in names)
    if upper.promote <= lower.promote or upper.demote <= lower.demote:
        raise ModelError(f"{table.name(names[1])}: thresholds must be above those of {names[0]}")
    return lower, upper
