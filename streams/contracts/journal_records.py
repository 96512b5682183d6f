"""A lead's stage history and journal as a format 4 record holds them (``lead_records``): the parts
the state's head ends with, enum members written as their codes. Read only: format 5 stores them
as the scoring core's own records (``stored_lead``).

Both were added to format 4 as trailing parts: a record without them reads back with an empty
history and no journal (the next input starts one).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from scoring import Signal
from scoring.state import Input, SalesWord, Step
from streams.contracts.member_codes import (
    KIND_AT, STAGE_AT, STATUS_AT, TEMPERATURE_AT,
)

_SIGNAL, _FEEDBACK, _OUTCOME = 0, 1, 2


def path_from(parts: list[Any]) -> tuple[Step, ...]:
    return tuple(Step(parts[n], STAGE_AT[parts[n + 1]], TEMPERATURE_AT[parts[n + 2]], parts[n + 3])
                 for n in range(0, len(parts), 4))


def input_from(lead_id: str, parts: list[Any]) -> Input:
    if parts[0] != _SIGNAL:
        code, word_id, at, word, serial = parts
        return SalesWord(word_id, at, word, code == _OUTCOME, serial)
    _, event_id, at, kind, anonymous, profile, answers = parts
    return Signal(event_id=event_id, lead_id=lead_id, anonymous=anonymous, kind=KIND_AT[kind], occurred_at=at,
                  profile=MappingProxyType({profile[n]: profile[n + 1] for n in range(0, len(profile), 2)}),
                  answers=MappingProxyType({answers[n]: STATUS_AT[answers[n + 1]] for n in range(0, len(answers), 2)}))
