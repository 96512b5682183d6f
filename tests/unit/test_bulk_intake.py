"""The bulk intake's promises, each of which Faust kept per record: ack after handling, drop what a rebalance
made stale, read again what failed, keep each partition in order."""

from __future__ import annotations

import asyncio
import gc
from collections import defaultdict
from types import SimpleNamespace
from weakref import WeakSet

from aiokafka.structs import ConsumerRecord
from faust.types import TP

from streams.worker.bulk_intake import BulkIntake, Chunk

RAW = "leads.events.raw"


class FakeConsumer:
    """The parts of Faust's consumer the intake reads and writes."""

    def __init__(self) -> None:
        self.flow_active = True
        self._unacked_messages: WeakSet = WeakSet()
        self._committed_offset: dict[TP, int | None] = defaultdict(lambda: None)
        self._acked_index: dict[TP, set[int]] = defaultdict(set)
        self._acked: dict[TP, list[int]] = defaultdict(list)
        self._n_acked = 0
        self._commit_every = None
        self._waiting_for_ack = None
        self.sought: dict[TP, int] = {}

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought[tp] = offset

    async def commit(self) -> None:
        pass


class FakeApp:
    def __init__(self, consumer: FakeConsumer) -> None:
        self.consumer = consumer
        consumer.app = self
        self.topics = SimpleNamespace(acks_enabled_for=lambda topic: True)
        self.consumer_generation_id = 1
        self.flow_control = SimpleNamespace(is_active=lambda: True)
        self.should_stop = False
        self.crashed = asyncio.Event()
        self.crash_reason: BaseException | None = None

    async def crash(self, reason: BaseException) -> None:
        self.crash_reason = reason
        self.should_stop = True
        self.crashed.set()


def records(partition: int, offsets: range, topic: str = RAW) -> list[ConsumerRecord]:
    return [ConsumerRecord(topic, partition, offset, 1_700_000_000_000, 0, b"key", b"{}", None, 3, 2, [])
            for offset in offsets]


def chunk(partition: int, offsets: range, generation: int = 1) -> Chunk:
    return Chunk(TP(RAW, partition), records(partition, offsets), generation)


async def handle_next(intake: BulkIntake, app: FakeApp) -> None:
    batch, in_flight = intake._take(app, app.consumer)
    if batch:
        await intake._handle(app, app.consumer, batch, in_flight)


async def test_records_are_acked_only_once_their_batch_was_handled_and_are_in_flight_meanwhile():
    consumer = FakeConsumer()
    app = FakeApp(consumer)
    seen_in_flight = []

    async def handler(batch):
        seen_in_flight.extend(marker.tp for marker in consumer._unacked_messages)
        assert not consumer._acked[TP(RAW, 0)], "acked before the handler returned"

    intake = BulkIntake(max_batch_records=100)
    intake.handlers[RAW] = handler
    intake.put(chunk(0, range(10, 15)))
    await handle_next(intake, app)
    assert seen_in_flight == [TP(RAW, 0)]
    assert consumer._acked[TP(RAW, 0)] == [10, 11, 12, 13, 14]
    assert consumer._n_acked == 5
    assert not consumer._unacked_messages  # Faust's wait at a rebalance ends


async def test_records_fetched_before_a_rebalance_are_dropped_unhandled_and_unacked():
    consumer = FakeConsumer()
    app = FakeApp(consumer)
    handled = []

    async def handler(batch):
        handled.extend((record.partition, record.offset) for record in batch)

    intake = BulkIntake(max_batch_records=100)
    intake.handlers[RAW] = handler
    intake.put(chunk(0, range(0, 3), generation=1))
    app.consumer_generation_id = 2  # a rebalance came in between
    intake.put(chunk(1, range(7, 9), generation=2))
    await handle_next(intake, app)
    assert handled == [(1, 7), (1, 8)]
    assert not consumer._acked[TP(RAW, 0)]


async def test_nothing_is_handled_while_the_flow_is_stopped_for_a_rebalance():
    consumer = FakeConsumer()
    app = FakeApp(consumer)
    handled = []

    async def handler(batch):
        handled.extend(batch)

    intake = BulkIntake(max_batch_records=100)
    intake.handlers[RAW] = handler
    intake.put(chunk(0, range(0, 3)))
    consumer.flow_active = False
    await handle_next(intake, app)
    assert not handled and not consumer._acked[TP(RAW, 0)]


async def test_a_failed_batch_is_left_unacked_and_stops_the_worker_so_that_it_recovers_and_reads_it_again():
    consumer = FakeConsumer()
    app = FakeApp(consumer)
    handled = []

    async def failing(batch):
        handled.extend(record.offset for record in batch)
        raise RuntimeError("the Kafka client gave up")

    intake = BulkIntake(max_batch_records=5)
    intake.handlers[RAW] = failing
    intake.put(chunk(0, range(20, 25)))
    intake.put(chunk(0, range(25, 30)))  # fetched after it: must not be handled before it comes again
    runner = asyncio.ensure_future(intake.run(app))
    await asyncio.wait_for(app.crashed.wait(), 1)
    await asyncio.wait_for(runner, 1)
    assert handled == [20, 21, 22, 23, 24]
    assert not consumer._acked[TP(RAW, 0)] and consumer._n_acked == 0
    assert not consumer._unacked_messages  # Faust's wait at the stop does not hang on it
    assert isinstance(app.crash_reason, RuntimeError)


async def test_a_batch_never_exceeds_its_limit_and_keeps_each_partition_in_order():
    consumer = FakeConsumer()
    app = FakeApp(consumer)
    batches = []

    async def handler(batch):
        batches.append([(record.partition, record.offset) for record in batch])

    intake = BulkIntake(max_batch_records=4)
    intake.handlers[RAW] = handler
    intake.put(chunk(0, range(0, 3)))
    intake.put(chunk(1, range(0, 2)))
    intake.put(chunk(0, range(3, 5)))
    await handle_next(intake, app)
    await handle_next(intake, app)
    assert batches == [[(0, 0), (0, 1), (0, 2), (1, 0)], [(1, 1), (0, 3), (0, 4)]]


async def test_the_fetcher_waits_for_room_once_enough_is_queued_and_resumes_when_a_batch_is_taken():
    consumer = FakeConsumer()
    app = FakeApp(consumer)

    async def handler(batch):
        pass

    intake = BulkIntake(max_batch_records=2)
    intake.handlers[RAW] = handler
    for start in range(0, intake.max_queued_records, 2):
        intake.put(chunk(0, range(start, start + 2)))
    waiting = asyncio.ensure_future(intake.wait_for_room(timeout=5))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await handle_next(intake, app)
    await asyncio.wait_for(waiting, 1)


async def test_no_garbage_collection_runs_while_a_batch_is_handled_and_it_runs_again_after():
    consumer = FakeConsumer()
    app = FakeApp(consumer)
    collector_enabled = []

    async def handler(batch):
        collector_enabled.append(gc.isenabled())
        await asyncio.sleep(0)  # the flush awaits its sends: still paused while other tasks run
        collector_enabled.append(gc.isenabled())

    intake = BulkIntake(max_batch_records=100)
    intake.handlers[RAW] = handler
    intake.put(chunk(0, range(0, 3)))
    assert gc.isenabled()
    await handle_next(intake, app)
    assert collector_enabled == [False, False]
    assert gc.isenabled()
