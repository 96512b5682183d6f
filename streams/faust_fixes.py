"""Workarounds for faust-streaming bugs the fault suite ran into, applied once at import.

Each one says what went wrong without it. Imported by ``streams.app`` before the app exists.
"""

from __future__ import annotations

import logging
import time

from faust.transport.producer import ProducerBuffer
from mode.utils.queues import FlowControlEvent

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
