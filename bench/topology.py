"""The worker's whole pipeline in one process, Kafka replaced by in-memory hand-offs: its own cost per event.

Run: python -m bench.topology [--events 100000] [--batch 4000] [--rounds 2]

The benchmark's workload (``bench.workload``, the same events ``leadstream bench`` preloads)
goes through ``streams.worker.pipeline`` exactly as a worker runs it, in batches: raw events to
``ingest``, then what it sent to the signals and accounts.members topics to ``score_forwarded``
and ``score_accounts``, until nothing is left to hand on. The pipeline's context is the worker's
own (``streams.worker.wiring.faust_context``: its in-memory Faust tables) with one seam changed:
its outbox keeps every record a batch would give the Kafka client (counted per topic). The
garbage collector is paused per batch as the worker pauses it. What is left out is only Kafka:
fetching, the consumer thread, the producer, the broker.

Prints CPU µs per event (process time: on a shared machine, wall time also counts whoever else
ran) beside a baseline measured in the same run (``orjson.loads`` of each raw event), and a
digest of every table after the run: two versions of the code that print the same digest left
every lead and account byte for byte the same.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import time
from collections import Counter

import orjson
from aiokafka.structs import ConsumerRecord

# The demotion clock must stand still for the digest to mean anything (set before streams reads it).
os.environ.setdefault("LEADSTREAM_CLOCK", "fixed:2026-01-01T00:00:00Z")
# The tables here are never recovered, only cleared between rounds: the memory store, whose state is what is measured.
# Set only while the in-process app is configured (below): worker processes started later keep their own default.
_STORE_SET = os.environ.get("LEADSTREAM_STORE")
os.environ["LEADSTREAM_STORE"] = "memory"

from bench.workload import generate  # noqa: E402
from streams.contracts.partitioning import partition_for  # noqa: E402
from streams.worker import pipeline  # noqa: E402
from streams.worker.app import app  # noqa: E402
from streams.worker.context import MemoryOutbox, WorkerContext  # noqa: E402
from streams.worker.gc_pause import gc_paused, freeze_loaded_objects  # noqa: E402
from streams.worker.wiring import faust_context  # noqa: E402

assert app.conf.store.scheme == "memory"  # reading the configuration configures the app, on the memory store
if _STORE_SET is None:
    del os.environ["LEADSTREAM_STORE"]
else:
    os.environ["LEADSTREAM_STORE"] = _STORE_SET

TARGET_US_PER_EVENT = 35.0  # the pipeline's own CPU per event that native-speed work aims at
START = 1_764_000_000.0  # the workload's first event time: fixed, so the digest is too


class CountingOutbox(MemoryOutbox):
    """What the pipeline hands the Kafka client, kept in order instead of sent, and counted per topic."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: Counter[str] = Counter()

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.records.append((topic, key, value))
        self.sent[topic] += 1


def consumer_records(topic: str, pairs: list[tuple[bytes | None, bytes | None]], partitions: int,
                     timestamp_ms: int) -> list[ConsumerRecord]:
    """Each record on its key's partition, as the producer's partitioner puts it."""
    return [ConsumerRecord(topic, partition_for(key, partitions) if key else 0, offset, timestamp_ms, 0, key, value,
                           None, len(key or b""), len(value or b""), [])
            for offset, (key, value) in enumerate(pairs)]


async def run(pairs: list[tuple[bytes, bytes]], batch_size: int, context: WorkerContext,
              outbox: CountingOutbox, received_at: float = START + 86_400) -> float:
    """``received_at``: the broker's receipt time every record carries (event times later than it are clamped)."""
    signals, accounts, partitions = context.topics.signals, context.topics.account_members, context.partitions
    timestamp_ms = int(received_at * 1000)
    started = time.process_time()
    for first in range(0, len(pairs), batch_size):
        with gc_paused():
            await pipeline.ingest(context, consumer_records("raw", pairs[first:first + batch_size], partitions, timestamp_ms))
        # Forwards can forward again (a stitch releases to a lead's partition): until nothing is left.
        while forwarded := outbox.take(signals):
            with gc_paused():
                await pipeline.score_forwarded(context, consumer_records(signals, forwarded, partitions, timestamp_ms))
        if members := outbox.take(accounts):
            with gc_paused():
                await pipeline.score_accounts(context, consumer_records(accounts, members, partitions, timestamp_ms))
        outbox.records.clear()  # the rest leaves the worker: changelogs, changes, dead letters
    return time.process_time() - started


async def final_leads(pairs: list[tuple[bytes, bytes]], received_at: float = START + 86_400) -> dict[bytes, bytes]:
    """Each lead's final record after the pipeline took ``pairs`` from empty tables: what an uninterrupted run keeps."""
    outbox = CountingOutbox()
    context = faust_context(app, outbox=outbox)
    clear_tables(context)
    await run(pairs, 4_000, context, outbox, received_at)
    return dict(context.leads.data.items())


def tables_digest(context: WorkerContext) -> str:
    digest = hashlib.sha256()
    for table in (context.leads, context.visitors, context.accounts, context.erasures):
        for key in sorted(table.data.keys()):
            digest.update(key + b"\0" + table.data[key] + b"\0")
    return digest.hexdigest()[:16]


def clear_tables(context: WorkerContext) -> None:
    for table in (context.leads, context.visitors, context.accounts, context.erasures):
        table.data.clear()


def baseline(pairs: list[tuple[bytes, bytes]]) -> float:
    started = time.process_time()
    for _, value in pairs:
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=4_000, help="records per batch (the worker's default bound)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="passes over the workload from empty tables; the fastest counts")
    args = parser.parse_args()
    workload = generate(args.events, args.events // 10, seed=7, start=START)
    pairs = list(workload.pairs())
    outbox = CountingOutbox()
    context = faust_context(app, outbox=outbox)
    partitions = context.partitions
    freeze_loaded_objects()
    rounds: list[tuple[float, float, str, Counter[str]]] = []
    for _ in range(args.rounds):
        clear_tables(context)
        outbox.sent.clear()
        gc.collect()
        spent = asyncio.run(run(pairs, args.batch, context, outbox))
        rounds.append((spent, baseline(pairs), tables_digest(context), Counter(outbox.sent)))
    digests = {digest for _, _, digest, _ in rounds}
    assert len(digests) == 1, "the same workload left different tables between rounds"
    spent = min(round_[0] for round_ in rounds)
    loads = min(round_[1] for round_ in rounds)
    received = len(pairs)
    print(f"the worker's pipeline in one process: {received:,} events over {args.events // 10:,} leads, "
          f"batches of {args.batch:,}, {partitions} partitions, fastest of {args.rounds} rounds")
    print(f"{'pipeline':<10} {spent / received * 1e6:8.1f} µs/event  {received / spent:10,.0f} events/s"
          f"  {spent / loads:6.1f}x baseline")
    print(f"{'baseline':<10} {loads / received * 1e6:8.1f} µs/event  (orjson.loads of each raw event)")
    per_event_us = spent / received * 1e6
    print(f"target: {'met ' if per_event_us <= TARGET_US_PER_EVENT else 'MISS'}  at most {TARGET_US_PER_EVENT:.0f} µs"
          f" of CPU per event for the whole pipeline  {per_event_us:.1f}")
    print("records handed on: " + ", ".join(f"{topic} {n:,}" for topic, n in sorted(rounds[0][3].items())))
    print(f"tables digest: {digests.pop()} ({len(context.leads.data):,} leads)")


if __name__ == "__main__":
    main()
