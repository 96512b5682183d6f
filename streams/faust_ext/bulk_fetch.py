"""The fetch loop of the worker's bulk intake: ``Consumer._drain_messages`` replaced (installed by ``streams.faust_ext.install()``).

Faust's fetch loop turns every record into a message and hands it to a stream, one at a time.
This one queues the records of the topics the bulk intake reads (streams/worker/bulk_intake.py,
which explains the whole scheme and what it keeps of Faust's guarantees) per partition, as
``Chunk``s, and keeps Faust's per-record path for every other topic (changelogs during
recovery, the control topic). The worker's wiring hands the intake over with ``hand_over``
(streams/worker/bootstrap.py); until then, or in another process, the loop is Faust's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.structs import ConsumerRecord
from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.types import TP

from streams.faust_ext.consumer_internals import count_received
from streams.faust_ext.guard import Original, Override


@dataclass(slots=True)
class Chunk:
    """Records of one partition from one fetch, and the consumer generation that fetched them."""

    tp: TP
    records: list[ConsumerRecord]
    generation: int


class BulkReader(Protocol):
    """What the fetch loop asks of the bulk intake (streams.worker.bulk_intake.BulkIntake)."""

    handlers: dict[str, Callable[..., Any]]

    def reads(self, topic: str) -> bool: ...

    def put(self, chunk: Chunk) -> None: ...

    def has_room(self) -> bool: ...

    async def wait_for_room(self, timeout: float) -> None: ...


_bulk_intake: BulkReader | None = None


def hand_over(intake: BulkReader | None) -> None:
    """The intake whose topics the fetch loop queues in bulk from now on (None: Faust's loop for every topic)."""
    global _bulk_intake
    _bulk_intake = intake


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

    The checks are Faust's own (``Consumer._drain_messages`` and ``getmany``, digest-checked with it): only active
    partitions, nothing once the flow stops or the generation changes, records at or past the
    partition's read offset, and offset gaps recorded so commits can pass them. Without a bulk
    intake handed over (``hand_over``), or one that reads no topic, it is Faust's loop.
    """
    intake = _bulk_intake
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
                        count_received(self.app, tp, len(fresh), fresh[-1].offset)
                        intake.put(Chunk(tp, fresh, generation))
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



OVERRIDE = Override(
    Original(Consumer, "_drain_messages", "8f35dd7a11144daa6ec9a3739a497b03a9dd6b57cca18aa861bb4a549400fc68"),
    _drain_in_bulk,
    # Their logic is copied: the loop's checks from getmany, consumer_internals.ack_offsets from ack.
    copies=(Original(Consumer, "getmany", "e486c434b7928ee8dc33eb66f8ad03adae289861dcec23f4cbd767ccc3c38148"),
            Original(Consumer, "ack", "5548cf0f75843f73490a54177df6b38b23d6e61a65653e3de6bc929d5165bad4")),
)
