"""A real aiokafka consumer on a fresh topic, and Faust's own consumer objects driving it, for the tests of the Faust overrides' premises."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

WAIT_S = 30.0  # bound of every wait on the broker


async def until(ready: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def new_topic(bootstrap: str, partitions: int) -> list[TopicPartition]:
    name = f"premises-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    return [TopicPartition(name, partition) for partition in range(partitions)]


async def produce(bootstrap: str, tps: list[TopicPartition], count: int) -> None:
    """``count`` records on each partition, valued ``b"<partition>:<n>"``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for tp in tps:
            for n in range(count):
                await producer.send_and_wait(tp.topic, f"{tp.partition}:{n}".encode(), partition=tp.partition)
    finally:
        await producer.stop()


@asynccontextmanager
async def assigned_client(bootstrap: str, tps: list[TopicPartition]) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of a group of its own, assigned ``tps`` directly (no rebalance), configured as a worker's."""
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=f"premises-{uuid.uuid4().hex[:10]}",
                              enable_auto_commit=False, auto_offset_reset="earliest")
    await client.start()
    try:
        client.assign(tps)
        yield client
    finally:
        await client.stop()


async def fetched(client: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
    """Until the client's fetcher holds records of every partition in ``tps``, none handed out yet."""
    await until(lambda: set(tps) <= set(client._fetcher._records), f"records of {tps} fetched")


def position(client: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """Where the client will fetch ``tp`` from next (the state the dropped-fetch healer reads)."""
    state = client._subscription.subscription.assignment.state_value(tp)
    return state.position if state.has_valid_position else None


def faust_consumer_over(client: AIOKafkaConsumer) -> Any:
    """Faust's consumer (aiokafka driver) of an app that is never started, its consumer thread driving ``client``.

    The thread's one hop into its own event loop is the part stood in for: calls run in the
    test's loop, on the real client, through Faust's own methods.
    """
    app = faust.App(f"premises-{uuid.uuid4().hex[:10]}", broker="kafka://unused:9092")
    consumer = app.consumer
    thread = consumer._thread
    thread._consumer = client

    async def in_this_loop(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await method(*args, **kwargs)

    thread.call_thread = in_this_loop
    return consumer


def values(records: dict[Any, list[Any]]) -> dict[int, list[bytes]]:
    return {tp.partition: [record.value for record in tp_records] for tp, tp_records in records.items()}
