"""The visitors table's records: one anonymous visitor's held history, or the lead it became.

Written as the byte 1, then a ``StoredVisitor`` in MessagePack (``record_frame``): its held
signals are the scoring core's own records, so msgspec decodes a visitor in C. Changelogs still
hold the JSON object earlier releases wrote (keys last_seen, lead_id, held): decode_visitor reads both.
"""

from __future__ import annotations

import msgspec
import orjson

from scoring import Signal, VisitorState
from streams.contracts import record_frame
from streams.contracts.signal_records import signal_from_dict

VISITOR_FORMAT = b"\x01"


class StoredVisitor(msgspec.Struct, array_like=True, frozen=True, gc=False):
    held: tuple[Signal, ...]  # first: a visitor holding nothing is told by its record's third byte
    lead_id: str | None
    last_seen: float


_DECODER = msgspec.msgpack.Decoder(StoredVisitor)
_NOTHING_HELD = b"\x01\x93\x90"  # the format byte, a three-part array, an empty one first
_NOTHING_HELD_JSON = b'"held":[]}'  # how the JSON object of earlier releases ends when it holds nothing


def encode_visitor(state: VisitorState) -> bytes:
    return record_frame.framed(VISITOR_FORMAT, StoredVisitor(state.held, state.lead_id, state.last_seen))


def decode_visitor(visitor_id: str, raw: bytes) -> VisitorState:
    if raw[:1] == VISITOR_FORMAT:
        stored = _DECODER.decode(memoryview(raw)[1:])
        return VisitorState(visitor_id, stored.lead_id, stored.held, stored.last_seen)
    data = orjson.loads(raw)
    return VisitorState(
        visitor_id=visitor_id,
        lead_id=data["lead_id"],
        held=tuple(signal_from_dict(signal) for signal in data["held"]),
        last_seen=data["last_seen"],
    )


def holds_events(raw: bytes) -> bool:
    """Does the visitor's record hold anonymous events (the board's count)? A byte test, not a decode."""
    return not (raw.startswith(_NOTHING_HELD) or raw.endswith(_NOTHING_HELD_JSON))
