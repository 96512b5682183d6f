"""What goes wrong in Faust's own objects without each of three overrides (docs/design.md §9, overrides 1 to 3), and that the override mends it.

Each test installs the one override it is about (or none) and drives Faust's real
ProducerBuffer, FlowControlEvent with an agent's queue, and Consumer with its conductor
handler. No Kafka: what these overrides change happens before a record reaches the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import faust
import pytest
from faust.types import TP, Message
from faust.types.tuples import FutureMessage, PendingMessage

from tests.faust_overrides import only_override

RAW, NEIGHBOUR = TP("leads.events.raw", 0), TP("leads.events.raw", 1)
STREAM_BUFFER = 8  # Faust's queue is under pressure from 8 / 1.25 records on


@pytest.fixture
def app() -> Iterator[faust.App]:
    """A Faust app that is never started (no broker is contacted): its objects as a worker builds them."""
    yield faust.App("override-failure-modes", broker="kafka://127.0.0.1:1", stream_buffer_maxsize=STREAM_BUFFER)


# -- 1. ProducerBuffer.flush ---------------------------------------------------------------------------------------


class BusyClient:
    """Stands in for a Kafka producer that is busy (a full client batch): it takes each message only once opened."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.taken: list[Any] = []

    async def publish_message(self, fut: FutureMessage, wait: bool = False) -> None:
        await self.open.wait()
        self.taken.append(fut.message.key)


def message_for(client: BusyClient, key: bytes) -> FutureMessage:
    return FutureMessage(PendingMessage(
        channel=client, key=key, value=b"state", partition=0, timestamp=None, headers=None,  # type: ignore[arg-type]
        key_serializer=None, value_serializer=None, callback=None))


@pytest.fixture
async def table_writes(app: faust.App) -> AsyncIterator[tuple[Any, BusyClient]]:
    """Faust's running producer buffer holding three changelog records the busy client has not taken yet."""
    buffer, client = app.producer.buffer, BusyClient()
    await buffer.start()
    for key in (b"lead-1", b"lead-2", b"lead-3"):
        buffer.put(message_for(client, key))
    yield buffer, client
    client.open.set()
    for _ in range(1000):  # the buffer refuses to stop while it holds messages
        if not buffer.size:
            break
        await asyncio.sleep(0)
    await buffer.stop()


def open_on_second_attempt(buffer: Any, client: BusyClient) -> None:
    """The client gets going once a flush tried a first time and gave up (Faust waits 0.1 s per message)."""
    attempts = []
    flush_atmost = buffer.flush_atmost

    async def counted(max_messages: int | None) -> int:
        attempts.append(max_messages)
        if len(attempts) == 2:
            client.open.set()
        return await flush_atmost(max_messages)

    buffer.flush_atmost = counted


async def test_without_the_flush_override_a_commit_would_pass_table_writes_still_in_the_buffer(table_writes):
    buffer, client = table_writes
    open_on_second_attempt(buffer, client)
    with only_override(None):
        await buffer.flush()  # what the consumer awaits before it commits

    assert buffer.size > 0 and client.taken == [], "Faust's flush returned with the writes still buffered"


async def test_the_flush_override_returns_only_once_every_buffered_write_is_handed_to_the_client(table_writes):
    buffer, client = table_writes
    open_on_second_attempt(buffer, client)
    with only_override("flush"):
        await asyncio.wait_for(buffer.flush(), timeout=30)

    assert buffer.size == 0 and client.taken == [b"lead-1", b"lead-2", b"lead-3"]


# -- 2. FlowControlEvent.resume ------------------------------------------------------------------------------------


def records_after_a_rebalance(app: faust.App) -> Any:
    """An agent's queue after recovery resumed the flow once and the fetcher delivered two records to it."""
    queue = app.channel().queue  # Faust's stream queue: cleared whenever the flow resumes
    queue.put_nowait("stale, fetched before the rebalance")
    app.flow_control.resume()  # recovery's first resume drops what was queued before the suspension
    assert queue.qsize() == 0
    queue.put_nowait("offset 7")
    queue.put_nowait("offset 8")  # marked read in the consumer: never fetched again
    return queue


def test_without_the_resume_override_recovery_drops_records_delivered_after_the_flow_resumed(app):
    with only_override(None):
        queue = records_after_a_rebalance(app)
        app.flow_control.resume()  # recovery's second resume, while the flow already runs

    assert queue.qsize() == 0, "the records were kept: Faust's resume no longer clears a running flow"


def test_the_resume_override_keeps_records_delivered_while_the_flow_runs_and_still_clears_a_suspended_one(app):
    with only_override("resume"):
        queue = records_after_a_rebalance(app)
        app.flow_control.resume()

        assert [queue.get_nowait(), queue.get_nowait()] == ["offset 7", "offset 8"]
        queue.put_nowait("fetched before the next rebalance")
        app.flow_control.suspend()
        app.flow_control.resume()
        assert queue.qsize() == 0


# -- 3. Consumer.on_buffer_full ------------------------------------------------------------------------------------


def record(offset: int) -> Message:
    return Message(RAW.topic, RAW.partition, offset, 0.0, 0, [], b"lead-1", b"{}", None, tp=RAW)


async def crossed_the_mark(app: faust.App) -> tuple[Any, Any, Any]:
    """Records of one partition delivered through Faust's conductor until its stream's buffer is under pressure."""
    consumer = app.consumer
    consumer.resume_partitions({RAW, NEIGHBOUR})  # both fetched, as after recovery
    app.flow_control.resume()
    channel = aiter(app.topic(RAW.topic, key_serializer="raw", value_serializer="raw"))  # as an agent's stream reads it
    deliver = app.topics._build_handler(RAW, {channel})  # type: ignore[attr-defined]  # built as a worker builds it
    for offset in range(7):
        await deliver(record(offset))
    return consumer, channel.queue, deliver


async def test_without_the_buffer_full_override_one_partition_stops_being_fetched_while_the_others_go_on(app):
    with only_override(None):
        consumer, queue, _ = await crossed_the_mark(app)

        assert consumer._get_active_partitions() == {NEIGHBOUR}, "every partition still fetched"
        while queue.qsize() > STREAM_BUFFER * 0.4:  # it comes back only once the agent drained its buffer
            queue.get_nowait()
        assert RAW not in consumer._get_active_partitions()
        queue.get_nowait()
        assert consumer._get_active_partitions() == {RAW, NEIGHBOUR}


async def test_the_buffer_full_override_keeps_every_partition_fetched_and_a_full_buffer_holds_the_consumer_back(app):
    with only_override("on_buffer_full"):
        consumer, queue, deliver = await crossed_the_mark(app)
        assert consumer._get_active_partitions() == {RAW, NEIGHBOUR}

        await deliver(record(7))
        assert queue.full()
        blocked = asyncio.ensure_future(deliver(record(8)))  # the buffer is full: the fetch loop waits here
        for _ in range(20):
            await asyncio.sleep(0)
        assert not blocked.done()
        queue.get_nowait()
        await asyncio.wait_for(blocked, timeout=10)
