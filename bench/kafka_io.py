"""The benchmark's own Kafka clients: fast preloads, topic creation, a group's committed lag."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.contracts.partitioning import partition_for


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int, client_kwargs: dict[str, Any]) -> None:
    """Create the topics explicitly (auto-creation would give the broker's default partition count)."""
    names = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_kwargs)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name in names if name not in existing]
        if missing:
            await admin.create_topics(missing)
        await wait_for_leaders(admin, names)
    finally:
        await admin.close()


async def warm_up_groups(bootstrap: str, client_kwargs: dict[str, Any], timeout_s: float = 60.0) -> None:
    """A fresh Kafka creates its offsets topic on the first group request: get that done before timing anything."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_kwargs)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                await admin.find_coordinator("leadstream-bench-warm-up")
                return
            except KafkaError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    """Until every partition of the topics has a leader: a producer started earlier only logs and retries."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        described = await admin.describe_topics(names)
        if all(d["error_code"] == 0 and d["partitions"] and all(p["leader"] >= 0 for p in d["partitions"])
               for d in described):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics {names} have no leaders after {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


def producer(bootstrap: str, client_kwargs: dict[str, Any], **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, **{"linger_ms": 5, **options}, **client_kwargs)


async def preload(
    bootstrap: str, topic: str, pairs: Iterable[tuple[bytes, bytes]], partitions: int, client_kwargs: dict[str, Any],
    records_per_batch: int | None = None, timestamp_ms: int | None = None,
) -> int:
    """Produce every (key, value) as fast as the client can: batches built per partition.

    Partitions are chosen with Kafka's default partitioner (murmur2 of the key), exactly as a
    keyed ``send`` would place them, so the topology sees what the collector would have written.
    ``records_per_batch`` caps a batch (Tansu answers wrong end offsets after multi-record
    batches, which cuts a changelog recovery short). ``timestamp_ms`` stamps every record with
    one receipt time instead of the producer's clock (runs that must match record for record).
    """
    client = producer(bootstrap, client_kwargs, max_batch_size=512 * 1024)
    await client.start()
    sent = 0
    try:
        batches: dict[int, Any] = {}
        pending: list[asyncio.Future[Any]] = []
        for key, value in pairs:
            partition = partition_for(key, partitions)
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = client.create_batch()
            if batch.append(key=key, value=value, timestamp=timestamp_ms) is None:
                pending.append(await client.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = client.create_batch()
                batch.append(key=key, value=value, timestamp=timestamp_ms)
            if records_per_batch is not None and batch.record_count() >= records_per_batch:
                pending.append(await client.send_batch(batch, topic, partition=partition))
                batches[partition] = client.create_batch()
            sent += 1
        for partition, batch in batches.items():
            if batch.record_count():
                pending.append(await client.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await client.stop()
    return sent


class GroupLag:
    """A consumer group's committed lag per partition (end offset minus committed offset), asked of the broker.

    What a worker that died would resume from is its group's committed offset, so this is the lag that counts.
    """

    def __init__(self, bootstrap: str, group: str, client_kwargs: dict[str, Any]) -> None:
        self.group = group
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_kwargs)
        self.offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_kwargs)

    async def __aenter__(self) -> GroupLag:
        await self.admin.start()
        await self.offsets.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.offsets.stop()
        await self.admin.close()

    async def of(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        partitions = list(partitions)
        committed = await self.admin.list_consumer_group_offsets(self.group, partitions=partitions)
        ends = await self.offsets.end_offsets(partitions)
        return {tp: max(ends[tp] - _committed_offset(committed.get(tp)), 0) for tp in partitions}


def _committed_offset(metadata: Any) -> int:
    return metadata.offset if metadata is not None and metadata.offset >= 0 else 0
