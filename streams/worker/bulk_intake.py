"""The worker's busiest topics read in bulk: each fetch handed to its handler as a list of records.

Faust delivers one record at a time: a ``ConsumerMessage`` and an ``Event`` per record, a flow
and producer check, a task pair to race the record against a flow stop, a queue hop, a stream
step and an ack. That per-record path alone costs as much as the whole no-op benchmark agent,
more than leadstream's scoring (bench/PROFILE.md). For the topics registered here the fetcher
(streams/faust_ext/bulk_fetch.py, which the worker's wiring hands this intake to) skips it: the records the Kafka client returned are queued as they are, and one task hands
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
from typing import cast

from aiokafka.structs import ConsumerRecord
from faust.transport.consumer import Consumer
from faust.types import AppT, TopicT

from streams.faust_ext.bulk_fetch import Chunk
from streams.faust_ext.consumer_internals import (
    InFlight,
    ack_offsets,
    mark_in_flight,
    release_in_flight,
    take_commit_due,
)
from streams.worker import metrics
from streams.worker.gc_pause import gc_paused

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[ConsumerRecord]], Awaitable[None]]

# The fetcher waits for room once this many batches' worth of records are queued: the Kafka
# client's own fetch buffer then holds what comes next.
QUEUED_BATCHES = 4


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
        return batch, mark_in_flight(consumer, {chunk.tp for chunk in batch})

    async def _handle(self, app: AppT, consumer: Consumer, batch: list[Chunk], in_flight: list[InFlight]) -> None:
        try:
            with gc_paused():
                for topic, records in by_topic(batch).items():
                    await self.handlers[topic](records)
        except Exception:
            metrics.BULK_BATCHES_FAILED.inc()
            raise  # unacked: see the module's docstring
        else:
            ack(consumer, batch)
        finally:
            release_in_flight(consumer, in_flight)
        if take_commit_due(consumer):
            await consumer.commit()


def by_topic(batch: Iterable[Chunk]) -> dict[str, list[ConsumerRecord]]:
    """The batch's records per topic, each partition's in order."""
    records: dict[str, list[ConsumerRecord]] = {}
    for chunk in batch:
        records.setdefault(chunk.tp.topic, []).extend(chunk.records)
    return records


def ack(consumer: Consumer, batch: Iterable[Chunk]) -> None:
    """Mark the batch's offsets acked, as ``Consumer.ack`` does one message at a time."""
    ack_offsets(consumer, ((chunk.tp, (record.offset for record in chunk.records)) for chunk in batch))
