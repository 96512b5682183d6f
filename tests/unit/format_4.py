"""A lead's record as format 4 wrote it (JSON lines): 0.2.0's writer, kept to make such records in tests.

Format 4 is read, never written, since format 5 (MessagePack): tests that shape older records
(a head cut short, a format number this version does not know) start from one written here.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import msgspec
import orjson

from scoring import LeadState, Signal
from scoring.state import Input, SalesWord, Step
from streams.contracts.lead_records import _AS_BEFORE, _change_parts
from streams.contracts.member_codes import KIND_CODE, REACHED_MASK, STAGE_CODE, STATUS_CODE, TEMPERATURE_CODE


def format_4_record(state: LeadState, history: bytes = b"", links: bytes = b"") -> bytes:
    head = orjson.dumps(_head(state))
    changes = b""
    if state.recent_changes:
        rows = [[hashed, *_change_parts(change)] for hashed, change in state.recent_changes]
        for later in range(len(rows) - 1, 0, -1):
            row, before = rows[later], rows[later - 1]
            for place in _AS_BEFORE:
                if row[place] == before[place]:
                    row[place] = 0
        changes = orjson.dumps(rows)
    lines = [head, changes, history, links]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return b"\n".join(lines)


def _path_parts(path: tuple[Step, ...]) -> list[Any]:
    return [part for step in path
            for part in (step.at, STAGE_CODE[step.stage], TEMPERATURE_CODE[step.temperature], step.cause)]


def _input_parts(item: Input) -> list[Any]:
    if isinstance(item, SalesWord):
        return [2 if item.outcome else 1, item.word_id, item.at, item.word, item.serial]
    assert isinstance(item, Signal)
    return [0, item.event_id, item.occurred_at, KIND_CODE.get(item.kind, item.kind), item.anonymous,
            [part for name, value in item.profile.items() for part in (name, value)],
            [part for name, status in item.answers.items() for part in (name, STATUS_CODE[status])]]


def _head(state: LeadState) -> list[Any]:
    levels, kind_code, status_code = state.levels, KIND_CODE, STATUS_CODE
    journal = state.journal
    return [
        4, state.model_version, state.identified, state.as_of,
        [part for kind, t in state.tallies.items() for part in (kind_code.get(kind, kind), t.decayed, t.count, t.last_at)],
        [part for name, fact in state.profile.items() for part in (name, fact.value, fact.stated_at)],
        [part for name, a in state.answers.items() for part in (name, status_code[a.status], a.stated_at)],
        [levels.mql, levels.sql, levels.pql, levels.warm, levels.hot],
        STAGE_CODE[state.stage], TEMPERATURE_CODE[state.temperature], state.rejected_at, state.sequence,
        base64.b64encode(struct.pack(f">{len(state.recent_event_ids)}Q", *state.recent_event_ids)).decode(),
        REACHED_MASK[state.reached], TEMPERATURE_CODE[state.hottest],
        state.accepted_at, state.sql_ended_at, state.active_at,
        [part for kind, count in state.renewed.items() for part in (kind_code.get(kind, kind), count)],
        state.flagged_at, state.needs_enrichment, state.revisited_at,
        _path_parts(state.path),
        None if journal is None else [
            _head(journal.base), None if journal.middle is None else _head(journal.middle), journal.serials,
            [_input_parts(item) for item in journal.inputs]],
    ]


def changes_part(record: bytes) -> bytes:
    """A format 5 record's remembered changes, as the bytes it holds them in."""
    return bytes(msgspec.msgpack.Decoder(tuple[msgspec.Raw, msgspec.Raw, msgspec.Raw, msgspec.Raw]).decode(record[1:])[1])
