"""What the worker's visitor counts and expiry index need of each visitor: kept beside it on disk, read at recovery.

After a recovery the held-event counts and the expiry index are rebuilt for the partitions now
owned. On RocksDB each visitor's summary (when it was last seen, how many events it holds) is
written with the visitor, in the same atomic write (streams/worker/state_store.py), so the
rebuild reads 13-byte summaries instead of decoding every visitor and the signals it holds.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from scoring import VisitorState
from streams.contracts import visitor_records
from streams.worker import metrics, stored_summaries

# A format byte (so a later layout is told apart and remade), last seen, events held.
_FORMAT = b"\x01"
_FIXED = struct.Struct("<cdI")


@dataclass(frozen=True, slots=True)
class VisitorSummary:
    last_seen: float
    held: int


def summarize(state: VisitorState) -> VisitorSummary:
    return VisitorSummary(state.last_seen, len(state.held))


def encode(summary: VisitorSummary) -> bytes:
    return _FIXED.pack(_FORMAT, summary.last_seen, summary.held)


def decode(row: bytes) -> VisitorSummary | None:
    """The summary in ``row``, or None if it is not one this release wrote."""
    if len(row) != _FIXED.size or row[:1] != _FORMAT:
        return None
    _, last_seen, held = _FIXED.unpack(row)
    return VisitorSummary(last_seen, held)


def _remade(key: bytes, record: bytes) -> VisitorSummary:
    return summarize(visitor_records.decode_visitor(key.decode(), record))


def summary_of_record(key: bytes, record: bytes | None) -> bytes | None:
    """A visitor record's summary, for a write that came with none (recovery, standby copies); None: no visitor."""
    return encode(_remade(key, record)) if record else None


def owned_summaries(visitors: object, active: set[int], partitions: int) -> Iterator[tuple[bytes, int, VisitorSummary]]:
    """(key, partition, summary) of every visitor of the partitions in ``active``: read where the store keeps
    summaries (RocksDB), else by decoding every visitor (the memory store)."""
    return stored_summaries.owned_summaries(visitors, active, partitions, decode, _remade,
                                            metrics.VISITOR_SUMMARIES_REMADE)
