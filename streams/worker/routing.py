"""Where each signal is decided: scored on its lead's partition, held on its visitor's, or forwarded there.

A partition owns the keys Kafka's partitioner puts on it; a signal that arrives elsewhere goes
to its owner through leads.signals, keyed by its lead (or visitor) id. Identity stitching runs
in two places: the visitor's partition links and releases what it held, the lead's scores it.
"""

from __future__ import annotations

from scoring import IgnoreReason, Signal, apply, has_seen, remember_event
from streams.contracts import command_records, signal_records
from streams.contracts.partitioning import partition_for
from streams.worker import metrics, stitching
from streams.worker.batch import Batch


def route(batch: Batch, signal: Signal, ingested_at: float, partition: int) -> None:
    """Handle the signal here if this partition owns its key (the lead, or an anonymous visitor), else send it there."""
    key = signal.lead_id.encode()
    if partition_for(key, batch.partitions) != partition:
        metrics.SIGNALS_FORWARDED.inc()
        batch.send(batch.context.topics.signals, key, signal_records.encode_signal(signal, ingested_at))
    elif not signal.anonymous:
        score(batch, signal, ingested_at)
    elif key not in batch.context.visitors.data and batch.is_erased(key):
        batch.ignored[IgnoreReason.ERASED_LEAD.value] += 1  # an erased visitor is not held again
    elif (for_lead := stitching.hold(batch.context, batch.tables, signal, ingested_at)) is not None:
        route(batch, for_lead, ingested_at, partition)  # the visitor was identified: the lead's now


def score(batch: Batch, signal: Signal, ingested_at: float) -> None:
    key = signal.lead_id.encode()
    state = batch.state(key)
    if state is None and batch.is_erased(key):
        batch.ignored[IgnoreReason.ERASED_LEAD.value] += 1
        if signal.links_visitor is not None:  # the visitor it names goes with the erased lead
            visitor = signal.links_visitor
            batch.send(batch.context.topics.signals, visitor.encode(),
                       command_records.encode_command(command_records.ERASE, visitor, ingested_at))
        return
    decision = apply(state, signal, batch.model)
    if batch.shadow.on:
        shadow_model = batch.shadow.model
        batch.shadow.follow(key, state, lambda shadow: apply(shadow, signal, shadow_model), ingested_at)
    if decision.duplicate:
        batch.deduplicated += 1
        # The state may have landed before a crash lost what was to be sent after it: send it
        # again. The account's update is idempotent, the change keeps its id.
        batch.report(key, signal.event_id)
        if decision.change is not None:
            batch.emit(decision.change, ingested_at, first_time=False)
        return
    batch.store(key, decision.state, signal, decision.change, report_cause=signal.event_id,
                assessment=decision.assessment)
    if signal.links_visitor is not None:
        # Recorded with the state it came with, in one record, so no crash can part the two; the
        # visitor's partition need not confirm the link.
        batch.link(key, visitor_id=signal.links_visitor)
    batch.scored += 1
    if decision.change is not None:
        batch.emit(decision.change, ingested_at)


def stitch(batch: Batch, visitor_id: str, lead_id: str, at: float, partition: int) -> None:
    """Identify linked the visitor to the lead: the visitor's partition releases what it held."""
    signals_topic = batch.context.topics.signals
    if partition_for(visitor_id.encode(), batch.partitions) != partition:
        batch.send(signals_topic, visitor_id.encode(),
                   command_records.encode_command(command_records.STITCH, lead_id, at, visitor_id=visitor_id))
        return
    visitor_key = visitor_id.encode()
    if visitor_key not in batch.context.visitors.data and batch.is_erased(visitor_key):
        return  # an erased visitor id is never linked (nor remembered) again
    release = stitching.stitch(batch.context, batch.tables, visitor_id, lead_id, at)
    lead_here = partition_for(lead_id.encode(), batch.partitions) == partition
    if release is None:
        return  # the lead recorded the link with the identify's own signal (score), and erases the visitor with it
    if lead_here:
        score_release(batch, lead_id, release.release_id, release.signals, at, visitor_id)
    else:
        batch.send(signals_topic, lead_id.encode(),
                   command_records.encode_release(lead_id, visitor_id, release.release_id, release.signals, at))


def score_release(batch: Batch, lead_id: str, release_id: str, signals: tuple[Signal, ...], ingested_at: float,
                  visitor_id: str) -> None:
    """A visitor's held history, scored for the lead once: a redelivered release is recognised by its id."""
    key = lead_id.encode()
    if has_seen(batch.state(key), release_id):
        batch.deduplicated += len(signals)
        return
    # Ingest latency runs from the identify that released them, not from the visits themselves.
    for signal in sorted(signals, key=lambda held: held.occurred_at):
        score(batch, signal, ingested_at)
    state = batch.state(key)
    if state is not None:  # an erased lead has none
        batch.store(key, remember_event(state, release_id, batch.model))
    linked(batch, key, visitor_id, ingested_at)


def linked(batch: Batch, key: bytes, visitor_id: str, at: float) -> None:
    """On the lead's partition: a visitor was linked to it. The lead remembers it, for its erasure to
    find; an erased lead has the visitor erased too."""
    if batch.state(key) is not None:
        batch.link(key, visitor_id=visitor_id)
    elif batch.is_erased(key):
        batch.send(batch.context.topics.signals, visitor_id.encode(),
                   command_records.encode_command(command_records.ERASE, visitor_id, at))
