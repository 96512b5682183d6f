"""Bytes per lead: how much a worker's resident memory grows per lead it holds, at 100k leads.

Processing a million events to reach 100k realistic leads would take longer than the whole
benchmark, so the leads are loaded the way a worker loads them after a restart: from the
leads table's changelog, whose records hold each lead's state and its history (the board's
timeline). They are the real ones — the final record of every lead the one-worker throughput
run scored (read from its changelog), cloned under new lead ids until there are enough —
written to a fresh app's changelog; a fresh ``leadstream worker`` recovers them into its table
(and rebuilds its lead census and demotion index from them). Two workers are measured, one
recovering the smaller count and one the larger; the difference of their VmRSS over the
difference of leads held is the figure. The throughput run's own growth (ready → drained, live
processing included) is reported beside it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.kafka_io import create_topics, preload
from bench.throughput import Bench, StageFailed, _start_ready, rss_bytes
from streams.contracts import lead_records
from streams.contracts.topic_admin import ensure_topics
from streams.devtools.processes import WorkerProcess

SETTLE_S = 2.0


@dataclass
class MemoryResult:
    baseline_leads: int
    target_leads: int
    baseline_rss: int  # bytes
    target_rss: int
    mean_state_bytes: float  # encoded state per lead, for comparison
    mean_history_bytes: float  # encoded history per lead

    @property
    def bytes_per_lead(self) -> float:
        return (self.target_rss - self.baseline_rss) / (self.target_leads - self.baseline_leads)


def changelog_topic(app_id: str, table: str = "leads") -> str:
    return f"{app_id}-{table}-changelog"  # Faust's naming of a table's changelog


# The tables a worker keeps per lead, each cloned and recovered.
PER_LEAD_TABLES = ("leads",)


async def final_states(bench: Bench, app_id: str, table: str = "leads") -> dict[bytes, bytes]:
    """The last value of every lead in one of an app's changelogs; fails if there is none."""
    topic = changelog_topic(app_id, table)
    states = await compacted(bench.broker.bootstrap, topic, bench.partitions, bench.broker.client_kwargs)
    if not states:
        raise StageFailed(f"no lead states in {topic}")
    return states


async def compacted(bootstrap: str, topic: str, partitions: int, client_kwargs: dict[str, Any]) -> dict[bytes, bytes]:
    """The last value per key of a topic (what compaction keeps, and what a recovery restores); deletes dropped."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_kwargs)
    await consumer.start()
    values: dict[bytes, bytes] = {}
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).items():
                for record in records:
                    if record.value:
                        values[record.key] = record.value
                    else:
                        values.pop(record.key, None)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return values


def cloned(states: dict[bytes, bytes], count: int) -> list[tuple[bytes, bytes]]:
    """``count`` (key, state) pairs: the originals, then copies under new lead ids."""
    originals = list(states.items())
    pairs: list[tuple[bytes, bytes]] = []
    copy = 0
    while len(pairs) < count:
        suffix = b"" if copy == 0 else b"#c%d" % copy
        pairs.extend((key + suffix, value) for key, value in originals[: count - len(pairs)])
        copy += 1
    return pairs


async def held_leads(bench: Bench, app_id: str, baseline: int, target: int) -> MemoryResult:
    tables = {table: await final_states(bench, app_id, table) for table in PER_LEAD_TABLES}
    measured = []
    for count in (baseline, target):
        rss, leads = await _recovered_worker(bench, {table: cloned(values, count) for table, values in tables.items()})
        measured.append((rss, leads))
    (baseline_rss, baseline_leads), (target_rss, target_leads) = measured
    records = tables["leads"]
    histories = [len(lead_records.history_of(record)) for record in records.values()]
    return MemoryResult(baseline_leads, target_leads, baseline_rss, target_rss,
                        sum(map(len, records.values())) / len(records) - sum(histories) / len(histories),
                        sum(histories) / len(histories))


async def preloaded_app(bench: Bench, stage: str, tables: dict[str, list[tuple[bytes, bytes]]]) -> str:
    """A fresh app's topic prefix, its topics created and its tables' changelogs already holding ``tables``."""
    prefix = bench.fresh_prefix(stage)
    await ensure_topics(bench.settings(prefix))
    for table, pairs in tables.items():
        topic = changelog_topic(prefix[:-1], table)
        await create_topics(bench.broker.bootstrap, [topic], bench.partitions, bench.broker.client_kwargs)
        await preload(bench.broker.bootstrap, topic, pairs, bench.partitions, bench.broker.client_kwargs,
                      records_per_batch=bench.broker.changelog_records_per_batch)
    return prefix


async def _recovered_worker(bench: Bench, tables: dict[str, list[tuple[bytes, bytes]]]) -> tuple[int, int]:
    """Start a worker whose changelogs already hold ``tables``; its RSS once recovered, and the leads it counts."""
    leads = len(tables["leads"])
    prefix = await preloaded_app(bench, f"mem{leads}", tables)
    worker = bench.process(prefix)
    try:
        await _start_ready([worker])
        leads = await _census(worker, leads)
        await asyncio.sleep(SETTLE_S)
        return rss_bytes(worker), leads
    finally:
        worker.stop()


async def _census(worker: WorkerProcess, expected: int, timeout_s: float = 120.0) -> int:
    """Leads the worker holds, once its census (rebuilt after recovery) has counted them all."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        _, stats = await worker.get_json("/stats")
        if stats["leads"] >= expected or asyncio.get_running_loop().time() > deadline:
            if stats["leads"] < expected:
                raise StageFailed(f"worker recovered {stats['leads']} of {expected} leads")
            return stats["leads"]
        await asyncio.sleep(0.5)
