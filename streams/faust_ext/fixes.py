"""Workarounds for faust-streaming bugs the fault suite ran into: five replaced methods, listed in ``OVERRIDES``.

Each one says what went wrong without it. Nothing is replaced when this module loads:
``streams.faust_ext.install()`` checks each original against the digest recorded here
(streams/faust_ext/guard.py), then installs them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.producer import ProducerBuffer
from faust.types import TP
from mode.utils.queues import FlowControlEvent

from streams.faust_ext.guard import Original, Override

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


def _keep_fetching(self: Consumer, tp: TP) -> None:
    """Under buffer pressure, hold every partition back alike instead of dropping one from fetching.

    When a stream's buffer nears full, Faust stops fetching the partition whose record crossed
    the mark and resumes it on a pressure-drop callback that can be lost: one raw partition
    then starved until every other one was drained, or for good after a takeover (faust-streaming
    issues 166 and 471; tests/integration/test_batch_recovery.py). Without it a full buffer still
    holds the consumer back, as the conductor awaits room in the buffer.
    """


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


# Each replaced method, with the sha256 of the original's source it was written against
# (faust-streaming 0.15.3, aiokafka 0.14.0, mode-streaming 0.7.1; see guard.digest).
OVERRIDES = (
    Override(Original(ProducerBuffer, "flush",
                      "95dd35cdc3ce50b5772f61c94cc93d2d9ea0cd058929ad2d6470aa077f3e0865"),
             _flush_completely),
    Override(Original(FlowControlEvent, "resume",
                      "da6fc70c770ea01b0ccee8833de3ea239acb3e2545a83c17827fb4718dbafcd7"),
             _resume_keeping_live_events),
    Override(Original(Consumer, "on_buffer_full",
                      "edcee17978c41d8dd242a8f4d3fbe4cc5a3956a2245014f1f7c219c560a2b245"),
             _keep_fetching),
    Override(Original(AIOKafkaConsumerThread, "getmany",
                      "1b1c58046a9b2bb704899722de67201d4abc52b4d735dce7f58f432777b69f82"),
             _getmany_of_partitions_active_now),
    Override(Original(AIOKafkaConsumerThread, "seek_to_committed",
                      "43907fc1163624bd01465d4f99e52f77f3e6180c423f94e4fd00c388d0bff801"),
             _seek_to_committed_or_to_the_start),
)
