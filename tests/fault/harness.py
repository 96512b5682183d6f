"""Tools the fault tests share: scripted journeys, reading topics to their end, waiting for recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.fault.reference import Reference
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, answers, identify, page, summed_accounting, track,
)

T = TypeVar("T")


def journey(lead: str) -> list[dict[str, Any]]:
    """Six events that take an ideal-profile lead through several stages (a change on most of them)."""
    return [
        identify(lead, f"{lead}-1", f"{lead}@acme.io", 0),
        page(lead, f"{lead}-2", "/pricing", 1),
        track(lead, f"{lead}-3", "Demo Requested", 2),
        answers(lead, f"{lead}-4", 3, budget="yes", authority="yes", need="yes", timeline="Q1"),
        track(lead, f"{lead}-5", "Trial Started", 4),
        track(lead, f"{lead}-6", "Feature Used", 5),
    ]


def rounds(leads: list[str]) -> list[list[dict[str, Any]]]:
    """Round ``r`` holds every lead's ``r``-th event: each lead's journey spreads over the whole run."""
    journeys = [journey(lead) for lead in leads]
    return [[events[step] for events in journeys] for step in range(len(journeys[0]))]


async def read_topic(bootstrap: str, topic: str, partition_count: int = TEST_PARTITIONS,
                     ) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic`` up to its end offsets now, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partition_count)]  # every test topic has 4 but one
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[bytes | None, bytes | None]] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                records.extend((r.key, r.value) for r in batch.get(tp, []))
        return records
    finally:
        await consumer.stop()


def changelog_topic(pipeline: RunningPipeline, table: str) -> str:
    return f"leadstream-{pipeline.prefix[:-1]}-{table}-changelog"


async def table_states(pipeline: RunningPipeline, table: str = "leads") -> dict[bytes, bytes]:
    """Each key's latest value in the table's changelog (what a recovering worker would read)."""
    latest: dict[bytes, bytes] = {}
    for key, value in await read_topic(pipeline.bootstrap, changelog_topic(pipeline, table)):
        if key is not None:
            if value:
                latest[key] = value
            else:
                latest.pop(key, None)
    return latest


def qualification_records(pipeline: RunningPipeline) -> list[dict[str, Any]]:
    return [orjson.loads(value) for _, value in pipeline.recorder.records[pipeline.topic("leads.qualification")]]


def alive(pipeline: RunningPipeline) -> list[Any]:
    return [w for w in pipeline.workers if w.process is not None and w.process.poll() is None]


async def live_accounting(pipeline: RunningPipeline) -> dict[str, Any]:
    """The accounting summed over the workers still running (a killed one's counts died with it)."""
    return summed_accounting([(await worker.get_json("/accounting"))[1] for worker in alive(pipeline)])


async def wait_until(check: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """``check()``'s first truthy answer, polled; fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            if result := await check():
                return result
        except Exception as exc:  # noqa: BLE001 — a worker may be mid-rebalance: ask again
            last = exc
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last!r})")


async def until_matches(pipeline: RunningPipeline, reference: Reference, timeout: float) -> list[str]:
    """Waits until the run's changes and states equal the reference; returns the differences left."""
    differences: list[str] = ["not compared yet"]

    async def matched() -> bool:
        nonlocal differences
        try:
            differences = reference.differences(qualification_records(pipeline), await table_states(pipeline))
        except Exception as exc:  # noqa: BLE001 — reported if it lasts
            differences = [f"could not compare: {exc!r}"]
        return not differences

    try:
        await wait_until(matched, timeout, "the run to match an uninterrupted one")
    except AssertionError:
        for worker in alive(pipeline):  # what each survivor says, for the failure report
            try:
                differences.append(f"{worker.url} accounting: {(await worker.get_json('/accounting'))[1]}")
            except Exception as exc:  # noqa: BLE001
                differences.append(f"{worker.url} does not answer: {exc!r}")
    return differences


def duplicate_emits(pipeline: RunningPipeline, leads: Iterable[str]) -> int:
    """The leads' qualification records beyond the first of their change id (consumers drop them by id)."""
    wanted = set(leads)
    records = [record for record in qualification_records(pipeline) if record["lead_id"] in wanted]
    return len(records) - len({record["change_id"] for record in records})
