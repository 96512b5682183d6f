"""The consumer thread fetches from the partitions active when Faust asked, whatever Faust pauses meanwhile."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

pytestmark = pytest.mark.usefixtures("faust_overrides")  # the fix under test, installed as a worker installs it

RAW, CHANGELOG = TP("leads.events.raw", 1), TP("leads-changelog", 1)


class ConsumerThread:
    """Stands in for Faust's consumer thread: the records the Kafka client holds, drained as it drains them."""

    def __init__(self, buffered: dict[TP, list[int]]) -> None:
        self.buffered = buffered
        self.asked: list[Any] = []
        self.records_arrive = asyncio.Event()

    def _ensure_consumer(self) -> Any:
        return SimpleNamespace(_max_poll_records=500)

    async def _fetch_records(self, consumer: Any, partitions: Any, timeout: float, max_records: int) -> Any:
        return {}

    async def call_thread(self, method: Any, consumer: Any, partitions: Any, **options: Any) -> dict[TP, list[int]]:
        self.asked.append(partitions)
        await self.records_arrive.wait()  # the client waits for records while Faust goes on
        # The client's own rule (aiokafka Fetcher.fetched_records): no partitions named means all of them.
        return {tp: self.buffered.pop(tp) for tp in list(self.buffered) if not partitions or tp in partitions}


async def fetch(thread: ConsumerThread, active: set[TP] | None) -> dict[TP, list[int]]:
    return await AIOKafkaConsumerThread.getmany(thread, active, timeout=1.0)  # type: ignore[arg-type]


async def test_a_partition_paused_while_the_client_waits_keeps_its_records_for_later():
    thread = ConsumerThread({RAW: [0], CHANGELOG: [7]})
    active = {CHANGELOG}  # recovering: the stream partitions are paused
    fetching = asyncio.create_task(fetch(thread, active))
    await asyncio.sleep(0)

    active.discard(CHANGELOG)  # recovery done: the changelog is paused before the stream resumes
    thread.records_arrive.set()

    assert await fetching == {CHANGELOG: [7]}
    assert thread.buffered == {RAW: [0]}, "the paused partition's record was taken and would be dropped"


async def test_no_active_partition_fetches_nothing():
    thread = ConsumerThread({RAW: [0]})
    thread.records_arrive.set()

    assert await fetch(thread, set()) == {}
    assert thread.asked == [] and thread.buffered == {RAW: [0]}


async def test_a_client_only_app_still_fetches_every_partition():
    thread = ConsumerThread({RAW: [0], CHANGELOG: [7]})
    thread.records_arrive.set()

    assert await fetch(thread, None) == {RAW: [0], CHANGELOG: [7]}
