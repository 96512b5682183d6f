"""A lead's history (a part of its table record): recent events and moves, for the board.

Written in MessagePack since lead state format 5; read from the JSON earlier formats wrote too.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from scoring import (
    SignalKind, Stage, Status, Temperature,
)
from scoring.history import History, Move, Occurrence
from streams.contracts import record_frame
from streams.contracts.member_codes import (
    KIND_AT, KIND_CODE, KINDS, STAGE_AT, STAGE_CODE, STAGES, STATUS_AT, STATUS_CODE, STATUSES,
    TEMPERATURE_AT, TEMPERATURE_CODE, TEMPERATURES,
)


def encode_history(history: History) -> bytes:
    # Positional, enum members as codes (see the leads table above); an event is [time, kind], and
    # [time, kind, answers, profile fields] when it stated any; a move is seven parts in a row.
    kind_code = KIND_CODE
    return record_frame.ENCODER.encode([
        history.since,
        [part for kind, count in history.folded.items() for part in (kind_code.get(kind, kind), count)],
        history.folded_events,
        [occurrence_parts(e.at, e.kind, e.answers, e.profile_fields) for e in history.events],
        [part for m in history.moves
         for part in move_parts(m.at, m.from_stage, m.to_stage, m.from_temperature, m.to_temperature, m.cause,
                                m.total)],
    ])


def occurrence_parts(at: float, kind: SignalKind | None, answers: Mapping[str, Status],
                     profile_fields: Sequence[str]) -> list[Any]:
    if not (answers or profile_fields):
        return [at, KIND_CODE.get(kind, kind)]
    status_code = STATUS_CODE
    return [at, KIND_CODE.get(kind, kind), [part for c, s in answers.items() for part in (c, status_code[s])], profile_fields]


MOVE_PARTS = 7  # a move's parts in a history record, in a row


def move_parts(at: float, from_stage: Stage, to_stage: Stage, from_temperature: Temperature,
               to_temperature: Temperature, cause: str, total: float) -> tuple[Any, ...]:
    return (at, STAGE_CODE[from_stage], STAGE_CODE[to_stage], TEMPERATURE_CODE[from_temperature],
            TEMPERATURE_CODE[to_temperature], cause, total)


def history_parts(raw: bytes) -> list[Any] | None:
    """A history record as its five positional parts, to add to in place; None for the older keyed format."""
    data = record_frame.loads(raw)
    return data if isinstance(data, list) else None


def history_from_parts(parts: list[Any]) -> History:
    since, folded, folded_events, events, moves = parts
    kind_at, status_at, stage_at, temperature_at = KIND_AT, STATUS_AT, STAGE_AT, TEMPERATURE_AT
    return History(
        since=since,
        folded=MappingProxyType({kind_at[folded[n]]: folded[n + 1] for n in range(0, len(folded), 2)}),
        folded_events=folded_events,
        events=tuple(
            Occurrence(e[0], kind_at[e[1]]) if len(e) == 2 else
            Occurrence(e[0], kind_at[e[1]],
                       MappingProxyType({e[2][n]: status_at[e[2][n + 1]] for n in range(0, len(e[2]), 2)}),
                       tuple(e[3]))
            for e in events
        ),
        moves=tuple(Move(moves[n], stage_at[moves[n + 1]], stage_at[moves[n + 2]], temperature_at[moves[n + 3]],
                         temperature_at[moves[n + 4]], moves[n + 5], moves[n + 6]) for n in range(0, len(moves), 7)),
    )


def encode_history_parts(parts: list[Any]) -> bytes:
    return record_frame.ENCODER.encode(parts)


def decode_history(raw: bytes) -> History:
    data = record_frame.loads(raw)
    return _decode_keyed_history(data) if isinstance(data, dict) else history_from_parts(data)


_NO_ANSWERS: MappingProxyType = MappingProxyType({})


def _decode_keyed_history(data: dict[str, Any]) -> History:
    """A history as written with the format 2 state: one keyed JSON object, enum members by name."""
    return History(
        since=data["since"],
        folded=MappingProxyType({KINDS[kind]: count for kind, count in data["folded"].items()}),
        folded_events=data["folded_events"],
        events=tuple(
            Occurrence(e[0], KINDS[e[1]] if e[1] else None) if len(e) == 2 else
            Occurrence(e[0], KINDS[e[1]] if e[1] else None,
                       MappingProxyType({c: STATUSES[s] for c, s in e[2].items()}) if len(e) > 2 else _NO_ANSWERS,
                       tuple(e[3]) if len(e) > 3 else ())
            for e in data["events"]
        ),
        moves=tuple(Move(at, STAGES[fs], STAGES[ts], TEMPERATURES[ft], TEMPERATURES[tt], cause, total)
                    for at, fs, ts, ft, tt, cause, total in data["moves"]),
    )
