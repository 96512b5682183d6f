"""The visitors table's records: one anonymous visitor's held history, or the lead it became.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations


import orjson

from scoring import (
    Signal, VisitorState,
)
from streams.contracts.signal_records import signal_from_dict, signal_to_dict


def encode_visitor(state: VisitorState) -> bytes:
    return orjson.dumps({
        "last_seen": state.last_seen,
        "lead_id": state.lead_id,
        "held": [signal_to_dict(signal) for signal in state.held],
    })


def held_in_record(raw: bytes, signal: Signal, seen_at: float, max_events: int) -> tuple[bytes | None, int] | None:
    """``scoring.visitors.on_anonymous`` for an unlinked visitor, worked on its record's JSON.

    Holding one more anonymous event is most of a visitor's life, and decoding every held event
    into objects to append one cost more than all the rest of its handling. Returns the new
    record and how many of the oldest held events were dropped, or no record for a duplicate;
    None when the visitor is linked (``on_anonymous`` forwards the signal to its lead). A
    property test holds it equal to ``on_anonymous`` then ``encode_visitor``.
    """
    data = orjson.loads(raw)
    if data["lead_id"] is not None:
        return None
    held = data["held"]
    event_id = signal.event_id
    if any(each["event_id"] == event_id for each in held):
        return None, 0
    held.append(signal_to_dict(signal))
    evicted = max(len(held) - max_events, 0)
    if evicted:
        del held[:evicted]
    data["last_seen"] = max(data["last_seen"], seen_at)
    return orjson.dumps(data), evicted


def decode_visitor(visitor_id: str, raw: bytes) -> VisitorState:
    data = orjson.loads(raw)
    return VisitorState(
        visitor_id=visitor_id,
        lead_id=data["lead_id"],
        held=tuple(signal_from_dict(signal) for signal in data["held"]),
        last_seen=data["last_seen"],
    )
