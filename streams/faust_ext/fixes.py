"""Workarounds for faust-streaming bugs the fault suite ran into, applied once at import.

Each one says what went wrong without it. Imported by ``streams.worker.app`` before the app exists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from faust.types import AppT, TP
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.producer import ProducerBuffer
from mode.utils.queues import FlowControlEvent

from streams.worker import metrics

log = logging.getLogger(__name__)
# Waiting longer than this for the producer to take one more message means it is stuck.
FLUSH_STALL_S = 30.0


async def _flush_completely(self: ProducerBuffer) -> None:
    """Hand every message buffered so far to the Kafka client before returning.

    Faust's ``flush`` gives up as soon as one message takes 0.1 s to leave the buffer (a busy
    event loop, a full client batch), yet the consumer flushes before it commits and before a
    rebalance hands partitions on: it then commits offsets past table writes still in the buffer,
    and the worker taking the partition over recovers the table without them and never sees
    their events again (found as a lead missing one event after a rebalance under load).
    """
    # The buffer is first in, first out: once as many messages as it held have left, so has
    # every one it held (later ones need not wait, or a busy worker would never commit).
    pending, progress_at = self.size, time.monotonic()
    while pending > 0 and self.size:
        if sent := await self.flush_atmost(pending):
            pending -= sent
            progress_at = time.monotonic()
        elif time.monotonic() - progress_at > FLUSH_STALL_S:
            log.error("producer buffer stuck with %d messages for %.0f s; flushing no further",
                      self.size, FLUSH_STALL_S)
            return


ProducerBuffer.flush = _flush_completely  # type: ignore[method-assign]


_resume_and_clear = FlowControlEvent.resume


def _resume_keeping_live_events(self: FlowControlEvent) -> None:
    """Resume a suspended flow (dropping what was queued before the suspension), or do nothing.

    Faust's ``resume`` also empties every agent's queue, and its recovery calls it a second time,
    when the flow is already running: in ``on_recovery_completed`` after the stream partitions
    were resumed and while it awaits the seek to committed offsets. Records the fetcher delivered
    meanwhile were dropped from the queues after being marked as read, so the worker taking over
    a partition silently skipped them, or stalled on it (found by SIGKILLing one of two workers;
    the symptom of faust-streaming issues 175 and 629). Records delivered twice instead (once
    before the seek, once after) are deduplicated by event id.
    """
    if self.is_active():
        return
    _resume_and_clear(self)


FlowControlEvent.resume = _resume_keeping_live_events  # type: ignore[method-assign]


def _keep_fetching(self: Consumer, tp: TP) -> None:
    """Under buffer pressure, hold every partition back alike instead of dropping one from fetching.

    When a stream's buffer nears full, Faust stops fetching the partition whose record crossed
    the mark and resumes it on a pressure-drop callback that can be lost: one raw partition
    then starved until every other one was drained, or for good after a takeover (faust-streaming
    issues 166 and 471; tests/integration/test_batch_recovery.py). Without it a full buffer still
    holds the consumer back, as the conductor awaits room in the buffer.
    """


Consumer.on_buffer_full = _keep_fetching  # type: ignore[method-assign]


_getmany_of = AIOKafkaConsumerThread.getmany


async def _getmany_of_partitions_active_now(
    self: AIOKafkaConsumerThread, active_partitions: set[TP] | None, timeout: float,
) -> Mapping[TP, list[Any]]:
    """Fetch from a copy of the partitions active when asked, never from none of them.

    Faust hands the consumer thread its own set of active partitions, which it goes on changing
    while the thread waits up to a second for records, and the Kafka client reads an empty set
    as every partition. When recovery paused the changelog partitions before it resumed the
    stream partitions, the set was empty for a moment: the client returned the records of the
    still-paused stream partitions and moved its positions past them, and Faust discarded them
    as not active. The seek to committed offsets that follows moves no partition without a
    committed offset, so a partition whose first records were never committed lost them for
    good (found as a lead's first event missing after a restart, its partition's only record
    before a crash).
    """
    if active_partitions is None:  # a client-only app: every partition
        return await _getmany_of(self, None, timeout)
    if not active_partitions:
        return {}
    return await _getmany_of(self, frozenset(active_partitions), timeout)


AIOKafkaConsumerThread.getmany = _getmany_of_partitions_active_now  # type: ignore[method-assign]


_seek_to_committed_only = AIOKafkaConsumerThread.seek_to_committed


async def _seek_to_committed_or_to_the_start(self: AIOKafkaConsumerThread) -> Mapping[TP, int]:
    """Seek every partition to its committed offset, and a stream partition never committed to its start.

    The Kafka client's seek to committed offsets moves no partition without one (nor one
    committed at 0), so such a partition carries on from wherever the client had fetched to. At
    a rebalance that is past records fetched and dropped unhandled, because the generation
    changed before their batch was taken (``streams.worker.bulk_intake``): a partition kept through
    the rebalance lost them silently while newer records kept arriving (found by the fault
    suite's rebalance under load: one lead missing one event, on a partition the worker kept
    and had not committed yet, its first commit due a few seconds later). Never committed means
    nothing was ever acknowledged there, so the start is where reading must resume, as on the
    first assignment (auto offset reset: earliest); whatever this worker or a crashed one scored
    meanwhile comes again and is deduplicated by event id. Changelog partitions are left to
    recovery, which seeks them itself. Faust's ``perform_seek`` sets its read and committed
    offsets from the mapping returned, as before.
    """
    committed = await _seek_to_committed_only(self)
    changelogs = self.app.tables.changelog_topics
    for tp, offset in committed.items():
        if not offset and tp.topic not in changelogs:
            self.seek(tp, 0)  # from the first offset the broker still holds, if 0 is gone
    return committed


AIOKafkaConsumerThread.seek_to_committed = _seek_to_committed_or_to_the_start  # type: ignore[method-assign]


class DroppedFetchHealer:
    """Re-reads a partition whose records the Kafka client fetched but Faust never delivered.

    After a takeover, faust-streaming can lose a batch between the client and the agents
    (faust-streaming 175, 629): its ``getmany`` drops the records the client returned for a
    partition not yet active, or once the flow stops or the generation changes mid-batch, yet the
    client's position has moved past them. None of them is in flight, and with no newer records
    to arrive the partition stalls for good. Seen as a survivor that took over a dead worker's
    partitions and never scored their events (about one SIGKILL takeover in three in the fault
    suite, each then healed within seconds).
    Checked every few seconds outside rebalances; a partition in that state twice running, with
    nothing moved in between, is sought back to its committed offset (its first offset if none):
    the events come again and those already scored are deduplicated by id.
    """

    def __init__(self) -> None:
        self.suspects: dict[TP, tuple[int, int | None]] = {}

    def _stuck(self, app: AppT) -> dict[TP, tuple[int, int | None]]:
        consumer = app.consumer
        client = consumer._thread._ensure_consumer()  # type: ignore[attr-defined]
        assignment = client._subscription.subscription.assignment if client._subscription.subscription else None
        if assignment is None:
            return {}
        in_flight = {message.tp for message in list(consumer._unacked_messages)}
        buffered = set(client._fetcher._records)
        stuck = {}
        for tp in consumer.assignment():
            if tp.topic in app.tables.changelog_topics or tp in in_flight or tp in buffered:
                continue
            state = assignment.state_value(tp)
            position = state.position if state is not None and state.has_valid_position else None
            delivered = consumer._read_offset.get(tp)
            if position is not None and position > 0 and (delivered is None or delivered < position - 1):
                stuck[tp] = (position, delivered)
        return stuck

    async def check(self, app: AppT) -> None:
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            self.suspects.clear()
            return
        stuck = self._stuck(app)
        for tp, seen in stuck.items():
            if self.suspects.get(tp) == seen:
                committed = app.consumer._committed_offset.get(tp) or 0
                log.warning("%s: fetched up to %d but delivered only up to %s; reading again from %d",
                            tp, seen[0], seen[1], committed)
                await app.consumer.seek(tp, committed)
                metrics.PARTITIONS_REREAD.inc()
        self.suspects = {tp: seen for tp, seen in stuck.items() if self.suspects.get(tp) != seen}


dropped_fetch_healer = DroppedFetchHealer()
