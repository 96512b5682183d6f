"""The agents' fast path: a whole ``stream.take_events`` batch decided at once, each lead written once.

Per batch: every record is decoded and decided synchronously, each lead's state held in memory
across the batch (read from the table once, scored by ``scoring.apply`` for each of its events
in order); then each lead's table entry is written once — one changelog record per lead per
batch, on the lead's own partition because the table uses the partitioner (a batch spans
partitions, and Faust would otherwise write to the partition of whichever event is current);
then the forwards, dead letters and qualification changes are sent, in order.

Nothing awaits between reading a lead's state and writing it back, so the other agent, which
shares the table, can never interleave a write that this batch would overwrite. Commands
(erasure, feedback) run in order between the parts of a batch, through ``pipeline``.

Crash safety is the per-event path's: offsets are acked only after the batch (Faust's
take_events), a commit flushes the producer first, and a redelivered event is recognised by
its id (``scoring.apply`` re-emits its change with the same change_id).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from faust.types import EventT

from scoring import IgnoreReason, Ignored, LeadState, QualificationChange, Signal, apply, interpret
from streams import codecs, metrics, pipeline
from streams.census import Bucket
from streams.config import scoring_model, settings
from streams.partitioning import partition_for
from streams.segment import RejectReason, Rejection, decode_segment
from streams.tables import erasures_table, leads_table
from streams.topics import dead_letters_topic, signals_topic

log = logging.getLogger(__name__)

# Up to this many records per batch; a partial batch goes after this long without one filling
# (the price a lone event pays in latency).
MAX_EVENTS = 1000
WITHIN_S = 0.005

_MISSING = object()


class Batch:
    """What one batch decided, before it is written and sent."""

    def __init__(self) -> None:
        self.model = scoring_model()
        self.partitions = settings().partitions
        self.max_event_bytes = settings().max_event_bytes
        self.states: dict[bytes, LeadState | None] = {}  # leads read this batch, as now decided
        self.loaded: dict[bytes, Bucket | None] = {}  # their census bucket when read
        self.dirty: dict[bytes, None] = {}  # leads to write back, in first-touched order
        self.sends: list[tuple[Any, bytes | None, bytes]] = []  # forwards and dead letters, in order
        self.changes: list[tuple[QualificationChange, float, bool]] = []  # (change, ingested_at, new)
        self.received: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.dead_lettered: Counter[str] = Counter()
        self.scored = self.deduplicated = self.reemitted = self.forwarded = 0

    # --- deciding (synchronous) ---------------------------------------------------------------

    def ingest(self, event: EventT) -> None:
        """One raw record: dead-letter it, ignore it, score it here or forward it to its lead's partition."""
        message = event.message
        received_at = message.timestamp
        try:
            decoded = decode_segment(message.value or b"", received_at, self.max_event_bytes)
            if isinstance(decoded, Rejection):
                self.received["invalid"] += 1
                self.dead_letter(event, decoded.reason.value, decoded.detail)
                return
            interpreted = interpret(decoded, self.model)
            self.received[decoded.type.value] += 1
            if isinstance(interpreted, Ignored):
                self.ignored[interpreted.reason.value] += 1
                return
            key = interpreted.lead_id.encode()
            if partition_for(key, self.partitions) == message.partition:
                self.score(interpreted, received_at)  # already on the lead's partition: no hop
            else:
                self.forwarded += 1
                self.sends.append((signals_topic, key, codecs.encode_signal(interpreted, received_at)))
        except Exception as exc:  # noqa: BLE001 — hostile input must never stop the worker
            log.exception("unexpected failure on %s[%d]@%d", message.topic, message.partition, message.offset)
            self.received["invalid"] += 1
            self.dead_letter(event, RejectReason.UNPROCESSABLE.value, repr(exc))

    def signal(self, event: EventT) -> None:
        """One record from the signals topic (not a command): already validated and keyed by lead id."""
        try:
            signal, ingested_at = codecs.decode_signal(event.message.value)
        except (ValueError, KeyError, TypeError) as exc:
            # Only this app writes the topic, but a stray producer must not stop scoring.
            self.dead_letter(event, RejectReason.UNPROCESSABLE.value, f"not a leadstream signal: {exc!r}")
            return
        try:
            self.score(signal, ingested_at)
        except Exception as exc:  # noqa: BLE001 — a bug on one lead must not lose the rest of the batch
            message = event.message
            log.exception("unexpected failure on %s[%d]@%d", message.topic, message.partition, message.offset)
            self.dead_letter(event, RejectReason.UNPROCESSABLE.value, repr(exc))

    def score(self, signal: Signal, ingested_at: float) -> None:
        key = signal.lead_id.encode()
        if key in erasures_table:
            self.ignored[IgnoreReason.ERASED_LEAD.value] += 1
            return
        state = self.states.get(key, _MISSING)
        if state is _MISSING:
            state = pipeline.held_state(key)
            self.states[key] = state
            self.loaded[key] = _bucket(state) if state is not None else None
        decision = apply(state, signal, self.model)  # type: ignore[arg-type]
        if decision.duplicate:
            self.deduplicated += 1
            if decision.change is not None:
                # The state landed before a crash may have lost the emit: send it again, same id.
                self.reemitted += 1
                self.changes.append((decision.change, ingested_at, False))
            return
        self.states[key] = decision.state
        self.dirty[key] = None
        self.scored += 1
        if decision.change is not None:
            self.changes.append((decision.change, ingested_at, True))

    def dead_letter(self, event: EventT, reason: str, detail: str) -> None:
        message = event.message
        self.dead_lettered[reason] += 1
        log.info("dead-lettered %s[%d]@%d: %s (%s)", message.topic, message.partition, message.offset, reason, detail)
        self.sends.append((dead_letters_topic, message.key, codecs.encode_dead_letter(
            reason, detail, message.key, message.value, message.topic, message.partition,
            message.offset, message.timestamp, time.time(),
        )))

    # --- writing (synchronous) and sending -----------------------------------------------------

    def write(self) -> None:
        """Each touched lead's entry once, the census and the counters: still without awaiting."""
        for key in self.dirty:
            state = self.states[key]
            assert state is not None
            leads_table[key] = codecs.encode_state(state)
            pipeline.lead_census.moved(partition_for(key, self.partitions), self.loaded[key], _bucket(state))
        self._count()

    async def send(self) -> None:
        for topic, key, value in self.sends:
            await topic.send(key=key, value=value)
        for change, ingested_at, new in self.changes:
            if not new:
                await pipeline.emit(change, ingested_at)  # re-emitted: counted and timed the first time
                continue
            metrics.QUALIFICATION_CHANGES.labels(
                from_stage=change.from_stage.value, to_stage=change.to_stage.value,
                from_temperature=change.from_temperature.value, to_temperature=change.to_temperature.value,
            ).inc()
            emitted_at = await pipeline.emit(change, ingested_at)
            metrics.EVENT_LATENCY.observe(max(emitted_at - change.event_time, 0.0))
            metrics.INGEST_LATENCY.observe(max(emitted_at - ingested_at, 0.0))

    def _count(self) -> None:
        for event_type, count in self.received.items():
            metrics.EVENTS_RECEIVED.labels(source=pipeline.SOURCE, type=event_type).inc(count)
        for reason, count in self.ignored.items():
            metrics.EVENTS_IGNORED.labels(reason=reason).inc(count)
        for reason, count in self.dead_lettered.items():
            metrics.EVENTS_DEAD_LETTERED.labels(reason=reason).inc(count)
        if self.scored:
            metrics.EVENTS_SCORED.inc(self.scored)
        if self.deduplicated:
            metrics.EVENTS_DEDUPLICATED.inc(self.deduplicated)
        if self.reemitted:
            metrics.QUALIFICATION_REEMITTED.inc(self.reemitted)
        if self.forwarded:
            metrics.SIGNALS_FORWARDED.inc(self.forwarded)


def _bucket(state: LeadState) -> Bucket:
    return state.stage.value, state.temperature.value


async def ingest(events: Sequence[EventT]) -> None:
    """A batch from the raw topic."""
    batch = Batch()
    for event in events:
        batch.ingest(event)
    batch.write()
    await batch.send()


async def score_forwarded(events: Sequence[EventT]) -> None:
    """A batch from the signals topic; commands run in order between the signals around them."""
    batch = Batch()
    for event in events:
        raw = event.message.value or b""
        if codecs.is_command(raw):
            batch.write()
            await batch.send()
            await pipeline.run_command(orjson.loads(raw))
            batch = Batch()
        else:
            batch.signal(event)
    batch.write()
    await batch.send()
