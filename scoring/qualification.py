"""Deciding stage and temperature from scores, fit, criteria and disqualifiers.

Every numeric threshold is a one-rung ladder with hysteresis; fit, criteria and
disqualifiers are facts, so they need none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from msgspec import Struct

from scoring.changes import Scores
from scoring.criteria import Status
from scoring.fit import FitGates, FitResult
from scoring.kinds import SignalKind
from scoring.stages import QUALIFIED, Rung, Stage, Temperature, climb

# On Python 3.11 reading a member through its enum class calls a descriptor: loops hold it here.
_MET = Status.MET


@dataclass(frozen=True)
class Ladders:
    mql: Rung  # on interest
    sql: Rung  # on intent
    pql: Rung  # on product-usage points
    warm: Rung  # on engagement: interest + intent − negative
    hot: Rung = Rung(5.0, 2.5)  # on interest: hot needs some interest beside intent and criteria


class Levels(Struct, frozen=True, gc=False, array_like=True):
    """Where the lead stands on each ladder (0 below the rung, 1 on it): hysteresis needs it held."""

    mql: int = 0
    sql: int = 0
    pql: int = 0
    warm: int = 0
    hot: int = 0


@dataclass(frozen=True)
class QualificationRules:
    ladders: Ladders
    warm_max_missing: int  # need identified and at most this many criteria missing: warm
    product_signals: frozenset[SignalKind]


class Assessment(Struct, frozen=True, gc=False):
    """Everything classification looks at, at one moment."""

    scores: Scores
    fit: FitResult
    criteria: Mapping[str, Status]
    need: str
    disqualified_by: tuple[str, ...]
    gates: FitGates = FitGates(True, True, True, True)

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
    hot = climb(levels.hot, scores.interest, (ladders.hot,))
    if (mql, sql, pql, warm, hot) == (levels.mql, levels.sql, levels.pql, levels.warm, levels.hot):
        return levels  # most events move no rung: the held value serves, unbuilt
    return Levels(mql=mql, sql=sql, pql=pql, warm=warm, hot=hot)


def earns_hot(levels: Levels, assessment: Assessment) -> bool:
    """Everything hot asks for but fit: intent, engagement, some interest, every criterion."""
    return bool(levels.sql and levels.warm and levels.hot and assessment.all_criteria_met)


def needs_enrichment(levels: Levels, assessment: Assessment, sales_qualified: bool) -> bool:
    """A gate the lead's behaviour (or answers) reaches is decided by fit attributes nobody stated."""
    uncertain = assessment.gates.uncertain
    if not uncertain or assessment.disqualified_by:
        return False
    reached = {"mql": bool(levels.mql), "pql": bool(levels.pql), "hot": earns_hot(levels, assessment),
               "sql": assessment.all_criteria_met and not sales_qualified}
    return any(reached[gate] for gate in uncertain)


def temperature_for(
    levels: Levels, assessment: Assessment, rules: QualificationRules, held_back: bool = False,
) -> Temperature:
    if assessment.disqualified_by:
        return Temperature.COLD
    if held_back:
        # Rejected by sales and the cooldown or the new intent not there yet: never hand it back as hot.
        return _at_most_warm(temperature_for(levels, assessment, rules))
    # Hot hands the lead to sales now: intent, fit, every criterion, some interest (a rung of its
    # own, so a lead does not flap on it), and still engaged once negative signals are counted.
    if earns_hot(levels, assessment) and assessment.gates.hot:
        return Temperature.HOT
    need_identified = assessment.criteria.get(assessment.need) is Status.MET
    if levels.warm or levels.sql or (need_identified and assessment.missing_criteria <= rules.warm_max_missing):
        return Temperature.WARM
    return Temperature.COLD


def _at_most_warm(temperature: Temperature) -> Temperature:
    return Temperature.WARM if temperature is Temperature.HOT else temperature


def stage_for(
    previous: Stage, identified: bool, levels: Levels, assessment: Assessment, sales_qualified: bool,
    held_back: bool = False,
) -> Stage:
    """``sales_qualified``: sales accepted it, or confirmed every criterion, and that still holds."""
    if not identified:
        return Stage.NEW
    if assessment.disqualified_by:
        return Stage.DISQUALIFIED
    gates = assessment.gates
    if sales_qualified:
        earned = Stage.SQL
    elif gates.pql and levels.pql:
        earned = Stage.PQL
    elif gates.mql and levels.mql:
        earned = Stage.MQL
    else:
        earned = Stage.IQL
    if held_back and earned in QUALIFIED:
        return Stage.RECYCLED  # sales rejected it; only the cooldown and new intent can qualify it again
    if earned is Stage.IQL and (previous in QUALIFIED or previous is Stage.RECYCLED):
        # A qualified lead that cools below every rung goes back to nurturing, not to IQL; one
        # that still earns a lower qualified stage (an SQL with MQL-level interest) takes it.
        return Stage.RECYCLED
    return earned
