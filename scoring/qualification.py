"""Deciding stage and temperature from scores, fit, criteria and disqualifiers.

Every numeric threshold is a one-rung ladder with hysteresis; fit, criteria and
disqualifiers are facts, so they need none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scoring.changes import Scores
from scoring.criteria import Status
from scoring.fit import FitResult
from scoring.kinds import SignalKind
from scoring.quick_init import quick_init
from scoring.stages import QUALIFIED, Rung, Stage, Temperature, climb

# On Python 3.11 reading a member through its enum class calls a descriptor: loops hold it here.
_MET = Status.MET


@dataclass(frozen=True)
class Ladders:
    mql: Rung  # on interest
    sql: Rung  # on intent
    pql: Rung  # on product-usage points
    warm: Rung  # on engagement: interest + intent − negative


@quick_init
@dataclass(frozen=True)
class Levels:
    """Where the lead stands on each ladder (0 below the rung, 1 on it): hysteresis needs it held."""

    mql: int = 0
    sql: int = 0
    pql: int = 0
    warm: int = 0


@dataclass(frozen=True)
class QualificationRules:
    ladders: Ladders
    hot_min_interest: float  # hot needs some interest beside intent and criteria
    warm_max_missing: int  # need identified and at most this many criteria missing: warm
    product_signals: frozenset[SignalKind]


@quick_init
@dataclass(frozen=True)
class Assessment:
    """Everything classification looks at, at one moment."""

    scores: Scores
    fit: FitResult
    criteria: Mapping[str, Status]
    need: str
    disqualified_by: tuple[str, ...]

    @property
    def all_criteria_met(self) -> bool:
        return all(status is _MET for status in self.criteria.values())

    @property
    def missing_criteria(self) -> int:
        return sum(status is not _MET for status in self.criteria.values())


def next_levels(levels: Levels, scores: Scores, ladders: Ladders) -> Levels:
    mql = climb(levels.mql, scores.interest, (ladders.mql,))
    sql = climb(levels.sql, scores.intent, (ladders.sql,))
    pql = climb(levels.pql, scores.product, (ladders.pql,))
    warm = climb(levels.warm, scores.engagement, (ladders.warm,))
    if (mql, sql, pql, warm) == (levels.mql, levels.sql, levels.pql, levels.warm):
        return levels  # most events move no rung: the held value serves, unbuilt
    return Levels(mql=mql, sql=sql, pql=pql, warm=warm)


def temperature_for(
    levels: Levels, assessment: Assessment, rules: QualificationRules, fit_minimum: float,
    held_back: bool = False,
) -> Temperature:
    if assessment.disqualified_by:
        return Temperature.COLD
    if held_back:
        # Rejected by sales and no new intent since: never hand it back as hot.
        return _at_most_warm(temperature_for(levels, assessment, rules, fit_minimum))
    # Hot hands the lead to sales now: it must be what an SQL is (intent, fit, every criterion),
    # with some interest, and still engaged once negative signals (unsubscribes) are counted.
    if (levels.sql and levels.warm and assessment.all_criteria_met and assessment.fit.score >= fit_minimum
            and assessment.scores.interest >= rules.hot_min_interest):
        return Temperature.HOT
    need_identified = assessment.criteria.get(assessment.need) is Status.MET
    if levels.warm or levels.sql or (need_identified and assessment.missing_criteria <= rules.warm_max_missing):
        return Temperature.WARM
    return Temperature.COLD


def _at_most_warm(temperature: Temperature) -> Temperature:
    return Temperature.WARM if temperature is Temperature.HOT else temperature


def stage_for(
    previous: Stage, identified: bool, levels: Levels, assessment: Assessment, fit_minimum: float,
    held_back: bool = False,
) -> Stage:
    if not identified:
        return Stage.NEW
    if assessment.disqualified_by:
        return Stage.DISQUALIFIED
    fits = assessment.fit.score >= fit_minimum
    if fits and levels.sql and assessment.all_criteria_met:
        earned = Stage.SQL
    elif fits and levels.pql:
        earned = Stage.PQL
    elif fits and levels.mql:
        earned = Stage.MQL
    else:
        earned = Stage.IQL
    if held_back and earned in QUALIFIED:
        return Stage.RECYCLED  # sales rejected it; only new intent can qualify it again
    if earned is Stage.IQL and (previous in QUALIFIED or previous is Stage.RECYCLED):
        # A qualified lead that cools below every rung goes back to nurturing, not to IQL; one
        # that still earns a lower qualified stage (an SQL with MQL-level interest) takes it.
        return Stage.RECYCLED
    return earned
