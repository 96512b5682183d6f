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
from scoring.visitors import expires_at, is_expired, link, on_anonymous
from streams.contracts import visitor_records
from streams.contracts.partitioning import partition_for
from streams.worker import metrics, visitor_summaries
from streams.worker.context import WorkerContext
from streams.worker.table_writes import TableWrites, keeps_summaries

log = logging.getLogger(__name__)
# A visitor the expiry timer asked to forget is asked again this much later, unless its deletion (or a new
# sighting) reaches the expiry index first: the request may be lost (a failed send, a rebalance meanwhile).
EXPIRY_RETRY_S = 60.0


def expiry_interval_s(context: WorkerContext) -> float:
    """How often each worker looks for expired visitors: often enough for the TTL, at most once a minute."""
    return min(max(context.settings.hold_limits().ttl_s / 4, 0.25), 60.0)


def _partition(context: WorkerContext, key: bytes) -> int:
    return partition_for(key, context.settings.partitions)


def visitor_state(context: WorkerContext, key: bytes) -> VisitorState | None:
    held = context.visitors.data.get(key)
    return visitor_records.decode_visitor(key.decode(), held) if held else None


def _write(context: WorkerContext, tables: TableWrites, key: bytes, before: VisitorState | None,
           after: VisitorState | None) -> None:
    """Store the visitor as ``after`` (None: delete it), and keep what counts visitors in step, without a scan:
    the held events and holding visitors of its partition, and when it is next due to expire."""
    visitors = context.visitors
    if after is None:
        tables.delete(visitors, key)
        context.visitor_expiry.schedule(key.decode(), None)
    else:
        summary = visitor_summaries.summarize(after)
        tables.set(visitors, key, visitor_records.encode_visitor(after),
                   visitor_summaries.encode(summary) if keeps_summaries(visitors) else None)
        context.visitor_expiry.schedule(key.decode(), expires_at(after.last_seen, context.settings.hold_limits()))
    context.held.moved(_partition(context, key), len(before.held) if before else 0, len(after.held) if after else 0)


def hold(context: WorkerContext, tables: TableWrites, signal: Signal, seen_at: float) -> Signal | None:
    """An anonymous signal, on its visitor's partition: held, or returned as the linked lead's to score."""
    key = signal.lead_id.encode()  # an anonymous signal's lead id is its visitor id
    before = visitor_state(context, key)
    decision = on_anonymous(before, signal, seen_at, context.settings.hold_limits())
    if isinstance(decision, Forward):
        _write(context, tables, key, before, decision.state)  # keeps the link from expiring
        return decision.signal
    if decision.duplicate:
        metrics.EVENTS_DEDUPLICATED.inc()
        return None
    _write(context, tables, key, before, decision.state)
    if decision.evicted:
        metrics.EVENTS_IGNORED.labels(reason=IgnoreReason.EXPIRED_ANONYMOUS.value).inc(decision.evicted)
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
    _write(context, tables, key, before, linked.state)
    if linked.release_id is None:
        return None  # nothing was held, or a repeated identify already released it
    metrics.VISITORS_STITCHED.inc()
    return Release(lead_id, visitor_id, linked.release_id, linked.released)


def forget(context: WorkerContext, tables: TableWrites, visitor_id: str) -> VisitorState | None:
    """Erasure, on the visitor's partition: its record goes, what it held is ignored (``erased_lead``)."""
    key = visitor_id.encode()
    state = visitor_state(context, key)
    if state is None:
        return None
    _write(context, tables, key, state, None)
    if state.held:
        metrics.EVENTS_IGNORED.labels(reason=IgnoreReason.ERASED_LEAD.value).inc(len(state.held))
    return state


def expire(context: WorkerContext, tables: TableWrites, visitor_id: str, issued_at: float) -> None:
    """Forget the visitor if it is still expired when the request reaches its partition."""
    key = visitor_id.encode()
    state = visitor_state(context, key)
    if state is None or not is_expired(state, issued_at, context.settings.hold_limits()):
        return  # seen again since the timer looked (which rescheduled it), or forgotten already
    _write(context, tables, key, state, None)
    if state.held:
        metrics.EVENTS_IGNORED.labels(reason=IgnoreReason.EXPIRED_ANONYMOUS.value).inc(len(state.held))


def due_for_expiry(context: WorkerContext, now: float, active: set[int]) -> list[str]:
    """Visitors of the partitions this worker owns that have been away longer than the TTL, from the expiry index:
    no visitor is read, however many are held. Each is asked again ``EXPIRY_RETRY_S`` later unless its deletion
    (or a new sighting) reschedules it first; one of a partition no longer owned is left to its new owner's recount."""
    index, due = context.visitor_expiry, []
    for visitor_id, _ in index.pop_due(now):
        if _partition(context, visitor_id.encode()) in active:
            index.schedule(visitor_id, now + EXPIRY_RETRY_S)
            due.append(visitor_id)
    return due


def held_visitors(context: WorkerContext, active: set[int]) -> int:
    """Anonymous visitors holding events in the partitions this worker owns: the board's "New (anonymous)"."""
    return context.held.holding(active)


def recount_held(context: WorkerContext, active: set[int]) -> None:
    """After every rebalance's recovery, for the partitions now owned (``active``): the events and visitors held
    and the expiry index, from the summaries kept beside the visitors where the store keeps them."""
    held, expiry, limits = [], [], context.settings.hold_limits()
    for key, partition, summary in visitor_summaries.owned_summaries(context.visitors.data, active,
                                                                     context.partitions):
        held.append((partition, summary.held))
        expiry.append((key.decode(), expires_at(summary.last_seen, limits)))
    taken_over, handed_over = context.held.rebuild(held, active)
    if taken_over:
        metrics.EVENTS_RECEIVED.labels(source=metrics.HANDOVER, type="held").inc(taken_over)
    if handed_over:
        metrics.EVENTS_HANDED_OVER.inc(handed_over)
    # Visitors who expired while no worker owned them are asked to go at the next tick.
    context.visitor_expiry.rebuild(expiry)
