"""The check that heals a partition whose fetched records Faust never delivered (run by a worker timer, streams/worker/timers.py).

Not an override: it replaces nothing, but reads the consumer's and the Kafka client's private
state to notice the stall, so it lives with the other code that depends on Faust's internals.
It touches ``Consumer._thread``, ``_unacked_messages``, ``_read_offset``, ``_committed_offset``,
and aiokafka's ``AIOKafkaConsumer._subscription`` and ``._fetcher._records``.
"""

from __future__ import annotations

import logging

from faust.types import TP, AppT

from streams.worker import metrics

log = logging.getLogger(__name__)


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
