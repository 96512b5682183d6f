"""A lead's stage history and journal as its table record holds them (``lead_records``): the parts
the state's head ends with, enum members written as their codes.

Both were added to format 4 as trailing parts: a record without them reads back with an empty
history and no journal (the next input starts one), and a reader that predates them ignores them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from scoring import Signal
from scoring.state import Input, SalesWord, Step
from streams.contracts.member_codes import (
    KIND_AT, KIND_CODE, STAGE_AT, STAGE_CODE, STATUS_AT, STATUS_CODE, TEMPERATURE_AT, TEMPERATURE_CODE,
)

_SIGNAL, _FEEDBACK, _OUTCOME = 0, 1, 2


def path_parts(path: tuple[Step, ...]) -> list[Any]:
    return [part for step in path
            for part in (step.at, STAGE_CODE[step.stage], TEMPERATURE_CODE[step.temperature], step.cause)]


def path_from(parts: list[Any]) -> tuple[Step, ...]:
    return tuple(Step(parts[n], STAGE_AT[parts[n + 1]], TEMPERATURE_AT[parts[n + 2]], parts[n + 3])
                 for n in range(0, len(parts), 4))


def input_parts(item: Input) -> list[Any]:
    if isinstance(item, SalesWord):
        return [_OUTCOME if item.outcome else _FEEDBACK, item.word_id, item.at, item.word, item.serial]
    return [_SIGNAL, item.event_id, item.occurred_at, KIND_CODE.get(item.kind, item.kind), item.anonymous,
            [part for name, value in item.profile.items() for part in (name, value)],
            [part for name, status in item.answers.items() for part in (name, STATUS_CODE[status])]]


def input_from(lead_id: str, parts: list[Any]) -> Input:
    if parts[0] != _SIGNAL:
        code, word_id, at, word, serial = parts
        return SalesWord(word_id, at, word, code == _OUTCOME, serial)
    _, event_id, at, kind, anonymous, profile, answers = parts
    return Signal(event_id=event_id, lead_id=lead_id, anonymous=anonymous, kind=KIND_AT[kind], occurred_at=at,
                  profile=MappingProxyType({profile[n]: profile[n + 1] for n in range(0, len(profile), 2)}),
                  answers=MappingProxyType({answers[n]: STATUS_AT[answers[n + 1]] for n in range(0, len(answers), 2)}))
