"""Which qualification changes alert: a promotion into a configured set of temperatures or stages.

Pure functions over the decoded change; the consumer does the I/O with what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring import Stage, Temperature
from streams.alerting.change import Change

DEFAULT_TEMPERATURES = frozenset({Temperature.HOT})
DEFAULT_STAGES = frozenset({Stage.SQL})


@dataclass(frozen=True)
class AlertRule:
    """Alert when a lead enters one of these temperatures or stages (from outside them)."""

    temperatures: frozenset[Temperature] = DEFAULT_TEMPERATURES
    stages: frozenset[Stage] = DEFAULT_STAGES


@dataclass(frozen=True)
class Promotion:
    """What the lead entered: a temperature of the rule, a stage of the rule, or both."""

    temperature: Temperature | None
    stage: Stage | None


def promotion(change: Change, rule: AlertRule) -> Promotion | None:
    """The promotion ``change`` makes under ``rule``, or None when it should not alert.

    A change whose from-side was already in a set does not enter it (hot → hot with a new score,
    warm → hot when warm is in the set too); a disqualification never alerts.
    """
    if change.disqualified:
        return None
    temperature = change.to_temperature if _enters(change.from_temperature, change.to_temperature,
                                                   rule.temperatures) else None
    stage = change.to_stage if _enters(change.from_stage, change.to_stage, rule.stages) else None
    if temperature is None and stage is None:
        return None
    return Promotion(temperature=temperature, stage=stage)


def _enters(before: Temperature | Stage, after: Temperature | Stage, wanted: frozenset) -> bool:
    return after in wanted and before not in wanted
