"""Identity stitching on the visitor's partition: hold anonymous history, link it, expire it.

Runs inside the stream, on the partition of the visitor id (records keyed by anonymousId land
there; others are repartitioned to it through leads.signals), so it is in the visitors table's
changelog: a restart or rebalance forgets nothing. The decisions come from ``scoring.visitors``;
this module stores them and counts them. The pipeline routes whatever must reach a lead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scoring import Forward, IgnoreReason, Signal, VisitorState
from scoring.visitors import is_expired, link, on_anonymous
from streams.contracts import visitor_records
from streams.contracts.partitioning import partition_for
from streams.worker import metrics
from streams.worker.context import WorkerContext
from streams.worker.table_writes import TableWrites

log = logging.getLogger(__name__)
# The expiry timer asks the visitor's partition to forget it; it does not ask again this soon.
EXPIRY_RETRY_S = 60.0


def expiry_interval_s(context: WorkerContext) -> float:
    """How often each worker looks for expired visitors: often enough for the TTL, at most once a minute."""
    return min(max(context.settings.hold_limits().ttl_s / 4, 0.25), 60.0)


def _partition(context: WorkerContext, key: bytes) -> int:
    return partition_for(key, context.settings.partitions)


def visitor_state(context: WorkerContext, key: bytes) -> VisitorState | None:
    held = context.visitors.data.get(key)
    return visitor_records.decode_visitor(key.decode(), held) if held else None


def hold(context: WorkerContext, tables: TableWrites, signal: Signal, seen_at: float) -> Signal | None:
    """An anonymous signal, on its visitor's partition: held, or returned as the linked lead's to score."""
    key = signal.lead_id.encode()  # an anonymous signal's lead id is its visitor id
    visitors, limits = context.visitors, context.settings.hold_limits()
    held = visitors.data.get(key)
    decision = on_anonymous(visitor_records.decode_visitor(key.decode(), held) if held else None, signal, seen_at, limits)
    if isinstance(decision, Forward):
        tables.set(visitors, key, visitor_records.encode_visitor(decision.state))  # keeps the link from expiring
        return decision.signal
    return _held(context, tables, key, None if decision.duplicate else visitor_records.encode_visitor(decision.state),
                 decision.evicted)


def _held(context: WorkerContext, tables: TableWrites, key: bytes, record: bytes | None, evicted: int) -> None:
    """The visitor holds one more event (``record``), or recognised it as held already (None)."""
    if record is None:
        metrics.EVENTS_DEDUPLICATED.inc()
        return None
    tables.set(context.visitors, key, record)
    context.held.add(_partition(context, key), 1 - evicted)
    if evicted:
        metrics.EVENTS_IGNORED.labels(reason=IgnoreReason.EXPIRED_ANONYMOUS.value).inc(evicted)
    return None


@dataclass(frozen=True)
class Release:
    lead_id: str
    visitor_id: str
    release_id: str
    signals: tuple[Signal, ...]


def stitch(context: WorkerContext, tables: TableWrites, visitor_id: str, lead_id: str,
           at: float) -> Release | None:
    """Identify linked the visitor to the lead, on the visitor's partition: what to score for the lead.

    The lead learns the visitor id from the identify's own signal (``links_visitor``), not from here.
    """
    key = visitor_id.encode()
    before = visitor_state(context, key)
    linked = link(before, visitor_id, lead_id, at)
    tables.set(context.visitors, key, visitor_records.encode_visitor(linked.state))
    if linked.release_id is None:
        return None  # nothing was held, or a repeated identify already released it
    context.held.add(_partition(context, key), -len(linked.released))
    metrics.VISITORS_STITCHED.inc()
    return Release(lead_id, visitor_id, linked.release_id, linked.released)


def forget(context: WorkerContext, tables: TableWrites, visitor_id: str) -> VisitorState | None:
    """Erasure, on the visitor's partition: its record goes, what it held is ignored (``erased_lead``)."""
    key = visitor_id.encode()
    state = visitor_state(context, key)
    if state is None:
        return None
    tables.delete(context.visitors, key)
    if state.held:
        context.held.add(_partition(context, key), -len(state.held))
        metrics.EVENTS_IGNORED.labels(reason=IgnoreReason.ERASED_LEAD.value).inc(len(state.held))
    return state


def expire(context: WorkerContext, tables: TableWrites, visitor_id: str, issued_at: float) -> None:
    """Forget the visitor if it is still expired when the request reaches its partition."""
    key = visitor_id.encode()
    context.expiry_requested.pop(key, None)
    state = visitor_state(context, key)
    if state is None or not is_expired(state, issued_at, context.settings.hold_limits()):
        return  # seen again since the timer looked, or forgotten already
    tables.delete(context.visitors, key)
    if state.held:
        context.held.add(_partition(context, key), -len(state.held))
        metrics.EVENTS_IGNORED.labels(reason=IgnoreReason.EXPIRED_ANONYMOUS.value).inc(len(state.held))


def due_for_expiry(context: WorkerContext, now: float, active: set[int]) -> list[str]:
    """Visitors of the partitions this worker owns that have been away longer than the TTL."""
    due, ttl, requested = [], context.settings.hold_limits(), context.expiry_requested
    for key, value in list(context.visitors.data.items()):
        if not value or _partition(context, key) not in active:
            continue
        if now - requested.get(key, float("-inf")) < EXPIRY_RETRY_S:
            continue
        if is_expired(visitor_records.decode_visitor(key.decode(), value), now, ttl):
            requested[key] = now
            due.append(key.decode())
    return due


def held_visitors(context: WorkerContext, active: set[int]) -> int:
    """Anonymous visitors holding events in the partitions this worker owns: the board's "New (anonymous)"."""
    return sum(1 for key, value in list(context.visitors.data.items())
               if value and visitor_records.holds_events(value) and _partition(context, key) in active)


def recount_held(context: WorkerContext, active: set[int]) -> None:
    """After every rebalance's recovery: count what the partitions now owned (``active``) hold."""
    held = ((_partition(context, key), len(visitor_records.decode_visitor(key.decode(), value).held))
            for key, value in list(context.visitors.data.items()) if value)
    taken_over, handed_over = context.held.rebuild(held, active)
    if taken_over:
        metrics.EVENTS_RECEIVED.labels(source=metrics.HANDOVER, type="held").inc(taken_over)
    if handed_over:
        metrics.EVENTS_HANDED_OVER.inc(handed_over)
    context.expiry_requested.clear()
