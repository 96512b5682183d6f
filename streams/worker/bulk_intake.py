"""The worker's busiest topics read in bulk: each fetch handed to its handler as a list of records.

Faust delivers one record at a time: a ``ConsumerMessage`` and an ``Event`` per record, a flow
and producer check, a task pair to race the record against a flow stop, a queue hop, a stream
step and an ack. That per-record path alone costs as much as the whole no-op benchmark agent,
more than leadstream's scoring (bench/PROFILE.md). For the topics registered here the fetcher
skips it: the records the Kafka client returned are queued as they are, and one task hands
everything queued to each topic's handler as one batch, then acks the batch's offsets in
Faust's own bookkeeping, so Faust's commits, its wait for in-flight work at a rebalance or a
stop, and every other topic (changelogs during recovery, the control topic) work as before.

What Faust guaranteed per record, this keeps per batch:
- order within a partition;
- a record is acked only after its batch's handler returned (its writes handed to the Kafka
  client; a commit flushes the client first), so a crash redelivers it, and the pipeline
  recognises a redelivered event by its id;
- at a rebalance Faust waits for the batch in progress (a marker per partition in its set of
  unacked messages) and drops what was queued but not started: records of a previous
  consumer generation, or fetched while the flow was stopped, are discarded and read again
  from the committed offsets Faust seeks to after recovery;
- a batch whose handler raised (the pipeline dead-letters a record it cannot handle, so this
  is the Kafka client failing, or a bug) is not acked, and the worker stops: the batch may have
  left table states in memory whose changelog records never went out, so only a restart, which
  recovers the tables from the changelogs and reads the unacked records again in order, is safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from aiokafka.structs import ConsumerRecord
from faust.transport.consumer import CONSUMER_FETCHING, Consumer, ThreadDelegateConsumer
from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP, AppT, TopicT
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from streams.worker import metrics
from streams.worker.gc_pause import collector_paused

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[ConsumerRecord]], Awaitable[None]]

# The fetcher waits for room once this many batches' worth of records are queued: the Kafka
# client's own fetch buffer then holds what comes next.
QUEUED_BATCHES = 4


@dataclass(slots=True)
class Chunk:
    """Records of one partition from one fetch, and the consumer generation that fetched them."""

    tp: TP
    records: list[ConsumerRecord]
    generation: int


class InFlight:
    """Stands in Faust's set of unacked messages for one partition's records in a batch being handled.

    Faust waits for that set to empty before it commits and hands partitions on at a rebalance
    or a stop; it reads ``tp``, ``refcount`` and ``acked`` from each member.
    """

    __slots__ = ("tp", "refcount", "acked", "__weakref__")

    def __init__(self, tp: TP) -> None:
        self.tp = tp
        self.refcount = 1
        self.acked = False

    def __repr__(self) -> str:
        return f"<bulk batch in flight on {self.tp.topic}[{self.tp.partition}]>"


class BulkIntake:
    """The topics read in bulk, their handlers, and the queue between the fetcher and them."""

    def __init__(self, max_batch_records: int) -> None:
        # At most this many records per handler call: bounds a batch's latency and memory. Under
        # load the queue refills while a batch is handled, so batches grow by themselves up to it.
        self.max_batch_records = max_batch_records
        self.max_queued_records = QUEUED_BATCHES * max_batch_records
        self.handlers: dict[str, BatchHandler] = {}
        self._topics: list[TopicT] = []
        self._queue: deque[Chunk] = deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    # --- set-up ---------------------------------------------------------------------------------

    def read(self, topic: TopicT, handler: BatchHandler) -> None:
        """Read ``topic`` in bulk: every batch of its records goes to ``handler``."""
        for name in topic.get_topic_name().split(","):
            self.handlers[name] = handler
        self._topics.append(topic)

    def subscribe(self, app: AppT) -> None:
        """Make the consumer subscribe to the topics, as an agent's stream would."""
        for topic in self._topics:
            app.topics.add(topic)

    # --- the fetcher's side -----------------------------------------------------------------------

    def reads(self, topic: str) -> bool:
        return topic in self.handlers

    def put(self, chunk: Chunk) -> None:
        self._queue.append(chunk)
        self._queued += len(chunk.records)
        self._ready.set()
        if self._queued >= self.max_queued_records:
            self._room.clear()

    def has_room(self) -> bool:
        return self._room.is_set()

    async def wait_for_room(self, timeout: float) -> None:
        if not self._room.is_set():
            try:
                await asyncio.wait_for(self._room.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    # --- the handling side ------------------------------------------------------------------------

    async def run(self, app: AppT) -> None:
        """Hand what is queued to the handlers, batch after batch, until the app stops."""
        consumer = cast(Consumer, app.consumer)
        try:
            while not app.should_stop:
                await self._ready.wait()
                self._ready.clear()
                while self._queue:
                    batch, in_flight = self._take(app, consumer)
                    if batch:
                        await self._handle(app, consumer, batch, in_flight)
                    # A batch's sends rarely wait, so without this a backlog would hold the event
                    # loop until it is gone: no web request, timer tick or fetch result in between.
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — a worker that silently stopped reading would look healthy
            log.exception("handling a batch failed; stopping the worker so that it recovers its tables and reads"
                          " the batch again")
            await app.crash(exc)

    def _take(self, app: AppT, consumer: Consumer) -> tuple[list[Chunk], list[InFlight]]:
        """The next batch, marked in flight at once: nothing may await between the two."""
        live = consumer.flow_active and app.flow_control.is_active()
        generation = app.consumer_generation_id
        batch: list[Chunk] = []
        size = 0
        while self._queue and size < self.max_batch_records:
            chunk = self._queue.popleft()
            room = self.max_batch_records - size
            if len(chunk.records) > room:  # the rest waits at the front, so its partition stays in order
                self._queue.appendleft(Chunk(chunk.tp, chunk.records[room:], chunk.generation))
                chunk = Chunk(chunk.tp, chunk.records[:room], chunk.generation)
            self._queued -= len(chunk.records)
            if live and chunk.generation == generation:
                batch.append(chunk)
                size += len(chunk.records)
            else:
                # Fetched before a rebalance: Faust's recovery seeks every partition it assigns
                # to its committed offset before the flow resumes, so these come again.
                metrics.BULK_RECORDS_DROPPED.inc(len(chunk.records))
        if self._queued < self.max_queued_records:
            self._room.set()
        in_flight = [InFlight(tp) for tp in {chunk.tp for chunk in batch}]
        consumer._unacked_messages.update(in_flight)  # type: ignore[attr-defined]
        return batch, in_flight

    async def _handle(self, app: AppT, consumer: Consumer, batch: list[Chunk], in_flight: list[InFlight]) -> None:
        try:
            with collector_paused():
                for topic, records in by_topic(batch).items():
                    await self.handlers[topic](records)
        except Exception:
            metrics.BULK_BATCHES_FAILED.inc()
            raise  # unacked: see the module's docstring
        else:
            ack(consumer, batch)
        finally:
            for marker in in_flight:
                marker.acked = True
            consumer._unacked_messages.difference_update(in_flight)  # type: ignore[attr-defined]
            notify(consumer._waiting_for_ack)  # type: ignore[attr-defined]
        commit_every = consumer._commit_every  # type: ignore[attr-defined]
        if commit_every is not None and consumer._n_acked >= commit_every:  # type: ignore[attr-defined]
            consumer._n_acked = 0  # type: ignore[attr-defined]
            await consumer.commit()


def by_topic(batch: Iterable[Chunk]) -> dict[str, list[ConsumerRecord]]:
    """The batch's records per topic, each partition's in order."""
    records: dict[str, list[ConsumerRecord]] = {}
    for chunk in batch:
        records.setdefault(chunk.tp.topic, []).extend(chunk.records)
    return records


def count_in_faust_sensors(app: AppT, chunk: Chunk) -> None:
    """Count the chunk as received in Faust's own monitors, as its per-record path would, once per chunk."""
    count, last_offset = len(chunk.records), chunk.records[-1].offset
    for sensor in app.sensors:
        if isinstance(sensor, Monitor):
            sensor.messages_received_total += count
            sensor.messages_received_by_topic[chunk.tp.topic] += count
            sensor.tp_read_offsets[chunk.tp] = last_offset
        if isinstance(sensor, PrometheusMonitor):
            faust_metrics = sensor._metrics
            faust_metrics.messages_received.inc(count)
            faust_metrics.messages_received_per_topics.labels(topic=chunk.tp.topic).inc(count)
            faust_metrics.messages_received_per_topics_partition.labels(
                topic=chunk.tp.topic, partition=chunk.tp.partition).set(last_offset)


def ack(consumer: Consumer, batch: Iterable[Chunk]) -> None:
    """Mark the batch's offsets acked, as ``Consumer.ack`` does one message at a time."""
    acked_total = 0
    with ack_lock:
        for chunk in batch:
            tp = chunk.tp
            if not consumer.app.topics.acks_enabled_for(tp.topic):
                continue
            committed = consumer._committed_offset[tp]  # type: ignore[attr-defined]
            acked_index = consumer._acked_index[tp]  # type: ignore[attr-defined]
            acked = consumer._acked[tp]  # type: ignore[attr-defined]
            for record in chunk.records:
                offset = record.offset
                if (committed is None or offset >= committed) and offset not in acked_index:
                    acked_index.add(offset)
                    acked.append(offset)
                    acked_total += 1
        consumer._n_acked += acked_total  # type: ignore[attr-defined]


# --- the fetcher ------------------------------------------------------------------------------------

_drain_one_at_a_time = Consumer._drain_messages


async def _unread(consumer: Consumer, tp: TP, last: int | None, offset: int, acking: bool) -> bool:
    """Faust's test of a fetched record against its partition's read offset ``last``.

    A record past a gap (offsets compaction or transaction markers left out) records the gap
    first, so that commits can pass it.
    """
    if last is not None and offset < last:
        return False
    if last and offset - last > 1 and acking:
        await consumer._add_gap(tp, last + 1, offset)  # type: ignore[attr-defined]
    return True


async def _drain_in_bulk(self: Consumer, fetcher: Any) -> None:  # pragma: no cover - runs in every worker
    """Faust's fetch loop, with the records of bulk topics queued per partition instead of one by one.

    The checks are Faust's own (``Consumer._drain_messages`` and ``getmany``): only active
    partitions, nothing once the flow stops or the generation changes, records at or past the
    partition's read offset, and offset gaps recorded so commits can pass them.
    """
    intake: BulkIntake | None = getattr(self.app, "bulk_intake", None)
    if intake is None or not intake.handlers:
        return await _drain_one_at_a_time(self, fetcher)
    callback = self.callback
    consumer_should_stop = self._stopped.is_set  # type: ignore[attr-defined]
    fetcher_should_stop = fetcher._stopped.is_set
    read_offset = self._read_offset  # type: ignore[attr-defined]
    acks_enabled_for = self.app.topics.acks_enabled_for
    to_message = self._to_message
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(CONSUMER_FETCHING)
            while not intake.has_room() and not (consumer_should_stop() or fetcher_should_stop()):
                await intake.wait_for_room(timeout=1.0)
            records, active_partitions = await self._wait_next_records(1.0)
            await self.sleep(0)
            if not records or self.should_stop or not self.flow_active:
                continue
            generation = self.app.consumer_generation_id
            for tp, tp_records in records.items():
                if not self.flow_active or self.app.consumer_generation_id != generation:
                    break
                if not (active_partitions is None or tp in active_partitions
                        or tp in self._buffered_partitions):  # type: ignore[attr-defined]
                    continue
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                acking = acks_enabled_for(tp.topic)
                if intake.reads(tp.topic):
                    fresh: list[ConsumerRecord] = []
                    last = read_offset[tp]
                    for record in tp_records:
                        if await _unread(self, tp, last, record.offset, acking):
                            fresh.append(record)
                            last = record.offset
                    if fresh:
                        chunk = Chunk(tp, fresh, generation)
                        count_in_faust_sensors(self.app, chunk)
                        intake.put(chunk)
                        read_offset[tp] = last
                    continue
                for record in tp_records:  # every other topic, one message at a time as Faust does
                    if await _unread(self, tp, read_offset[tp], record.offset, acking):
                        await self.wait_first(callback(to_message(tp, record)), self.suspend_flow.wait())
                        read_offset[tp] = record.offset
            self.diag.unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)


Consumer._drain_messages = _drain_in_bulk  # type: ignore[method-assign]
assert issubclass(ThreadDelegateConsumer, Consumer)
