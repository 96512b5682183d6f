"""Latency under a steady load: event ingest → qualification change emitted, one production worker.

The benchmark produces at a fixed rate (2,000 events/s by default) for a warm-up and a
measured window, and reads every qualification change the worker emits. Each change carries
``ingested_at`` (the raw record's broker timestamp: when the producer handed the event to
Kafka) and ``emitted_at`` (when the worker handed the change to its producer), see
``streams.contracts.change_to_dict``; the latency of a change is the difference. Changes caused
by events sent during the warm-up are left out. A worker that cannot keep up builds a backlog,
and its changes come out later and later: p99 shows it.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.kafka_io import producer
from bench.throughput import Bench, StageFailed, _start_ready, summed_accounting
from bench.workload import generate
from streams.contracts.topic_admin import ensure_topics
from streams.contracts.topics import QUALIFICATION, RAW_EVENTS

TICK_S = 0.005
DRAIN_TIMEOUT_S = 120.0  # at least; longer for a bigger run


@dataclass
class LatencyResult:
    rate: float  # events/s actually produced over the whole run
    events: int
    changes: int  # measured changes (after the warm-up)
    p50_ms: float
    p99_ms: float
    max_ms: float
    end_to_end_p50_ms: float  # ingest → the change read back by a consumer
    end_to_end_p99_ms: float


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = min(max(math.ceil(share * len(ordered)) - 1, 0), len(ordered) - 1)
    return ordered[rank]


async def steady_load(bench: Bench, rate: float = 2000.0, warmup_s: float = 5.0, measure_s: float = 20.0,
                      ) -> LatencyResult:
    prefix = bench.fresh_prefix("latency")
    total = int(rate * (warmup_s + measure_s))
    workload = generate(total, max(total // 10, 1), seed=23, start=time.time() + 2.0, spacing_s=1.0 / rate,
                        lead_prefix="lat-")
    await ensure_topics(bench.settings(prefix))
    worker = bench.process(prefix)
    consumer = AIOKafkaConsumer(prefix + QUALIFICATION, bootstrap_servers=bench.broker.bootstrap,
                                auto_offset_reset="earliest", **bench.broker.client_kwargs)
    client = producer(bench.broker.bootstrap, bench.broker.client_kwargs, linger_ms=1)
    received: list[tuple[float, bytes]] = []
    try:
        await _start_ready([worker])
        await consumer.start()
        await client.start()
        reader = asyncio.create_task(_read(consumer, received))
        started, measure_from = await _produce_steadily(client, prefix + RAW_EVENTS, workload, rate, warmup_s)
        elapsed = time.time() - started
        deadline = time.monotonic() + max(DRAIN_TIMEOUT_S, len(workload) / 100)
        while time.monotonic() < deadline:
            accounting = await summed_accounting([worker])
            if accounting["received"] >= len(workload) and accounting["balanced"]:
                break
            await asyncio.sleep(0.5)
        else:
            raise StageFailed(f"latency worker did not drain {len(workload)} events: {accounting}")
        await asyncio.sleep(2.0)  # the last changes reach the reader
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    finally:
        await client.stop()
        await consumer.stop()
        worker.stop()
    return _summarise(received, measure_from, len(workload) / elapsed, len(workload))


async def _produce_steadily(client: Any, topic: str, workload: Any, rate: float, warmup_s: float,
                            ) -> tuple[float, float]:
    """Send ``rate`` events a second, on a fine tick; returns (start, end of the warm-up) as epoch."""
    pairs = list(workload.pairs())
    started = time.time()
    sent = 0
    pending = []
    while sent < len(pairs):
        due = min(int((time.time() - started) * rate) + 1, len(pairs))
        while sent < due:
            key, value = pairs[sent]
            pending.append(await client.send(topic, value, key=key))
            sent += 1
        await asyncio.sleep(TICK_S)
    await asyncio.gather(*pending)
    return started, started + warmup_s


async def _read(consumer: AIOKafkaConsumer, received: list[tuple[float, bytes]]) -> None:
    async for record in consumer:
        received.append((time.time(), record.value))


def _summarise(received: list[tuple[float, bytes]], measure_from: float, rate: float, events: int) -> LatencyResult:
    emitted: list[float] = []
    end_to_end: list[float] = []
    seen: set[str] = set()
    for read_at, raw in received:
        change = orjson.loads(raw)
        if change.get("kind") != "qualification_change" or change["change_id"] in seen:
            continue
        seen.add(change["change_id"])
        if not change.get("ingested_at"):
            continue
        ingested = _epoch(change["ingested_at"])
        if ingested < measure_from:
            continue
        emitted.append((_epoch(change["emitted_at"]) - ingested) * 1000)
        end_to_end.append((read_at - ingested) * 1000)
    if not emitted:
        raise StageFailed("no qualification change was caused by an event in the measured window")
    return LatencyResult(
        rate=rate, events=events, changes=len(emitted),
        p50_ms=percentile(emitted, 0.50), p99_ms=percentile(emitted, 0.99), max_ms=max(emitted),
        end_to_end_p50_ms=percentile(end_to_end, 0.50), end_to_end_p99_ms=percentile(end_to_end, 0.99),
    )
