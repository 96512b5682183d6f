"""The worker's whole pipeline in one process, Kafka replaced by in-memory hand-offs: its own cost per event.

Run: python -m bench.topology [--events 100000] [--batch 4000] [--rounds 2]

The benchmark's workload (``bench.workload``, the same events ``leadstream bench`` preloads)
goes through ``streams.worker.pipeline`` exactly as a worker runs it, in batches: raw events to
``ingest``, then what it sent to the signals and accounts.members topics to ``score_forwarded``
and ``score_accounts``, until nothing is left to hand on. Every record a batch would give the
Kafka client is collected instead (and counted per topic), the tables are the worker's own
in-memory tables, and the garbage collector is paused per batch as the worker pauses it. What
is left out is only Kafka: fetching, the consumer thread, the producer, the broker.

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

from bench.workload import generate  # noqa: E402
from streams.worker import batch as batch_module  # noqa: E402
from streams.worker import pipeline, tables  # noqa: E402
from streams.worker.gc_pause import collector_paused, freeze_loaded_objects  # noqa: E402
from streams.contracts.partitioning import partition_for  # noqa: E402
from streams.worker.topics import account_members_topic, signals_topic  # noqa: E402

START = 1_764_000_000.0  # the workload's first event time: fixed, so the digest is too


class Outbox:
    """What the pipeline hands the Kafka client, kept in order instead of sent."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []
        self.sent: Counter[str] = Counter()

    async def send_now(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.records.append((topic, key, value))
        self.sent[topic] += 1

    async def send(self, key: bytes | None = None, value: bytes | None = None) -> None:  # a faust Topic's send
        await self.send_now("leads.accounts.qualification", key, value)

    def take(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        taken = [(key, value) for name, key, value in self.records if name == topic]
        self.records = [record for record in self.records if record[0] != topic]
        return taken


def consumer_records(topic: str, pairs: list[tuple[bytes | None, bytes | None]], partitions: int,
                     timestamp_ms: int) -> list[ConsumerRecord]:
    """Each record on its key's partition, as the producer's partitioner puts it."""
    return [ConsumerRecord(topic, partition_for(key, partitions) if key else 0, offset, timestamp_ms, 0, key, value,
                           None, len(key or b""), len(value or b""), [])
            for offset, (key, value) in enumerate(pairs)]


async def run(pairs: list[tuple[bytes, bytes]], batch_size: int, partitions: int, outbox: Outbox) -> float:
    signals, accounts = signals_topic.get_topic_name(), account_members_topic.get_topic_name()
    timestamp_ms = int(START * 1000) + 86_400_000
    started = time.process_time()
    for first in range(0, len(pairs), batch_size):
        with collector_paused():
            await pipeline.ingest(consumer_records("raw", pairs[first:first + batch_size], partitions, timestamp_ms))
        # Forwards can forward again (a stitch releases to a lead's partition): until nothing is left.
        while forwarded := outbox.take(signals):
            with collector_paused():
                await pipeline.score_forwarded(consumer_records(signals, forwarded, partitions, timestamp_ms))
        if members := outbox.take(accounts):
            with collector_paused():
                await pipeline.score_accounts(consumer_records(accounts, members, partitions, timestamp_ms))
        outbox.records.clear()  # the rest leaves the worker: changelogs, changes, dead letters
    return time.process_time() - started


TABLES = (tables.leads_table, tables.visitors_table, tables.accounts_table, tables.erasures_table)


def tables_digest() -> str:
    digest = hashlib.sha256()
    for table in TABLES:
        for key in sorted(table.data.keys()):
            digest.update(key + b"\0" + table.data[key] + b"\0")
    return digest.hexdigest()[:16]


def clear_tables() -> None:
    for table in TABLES:
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
    outbox = Outbox()
    tables.send_now = outbox.send_now  # type: ignore[assignment]
    batch_module.send_now = outbox.send_now  # type: ignore[assignment]
    pipeline.account_qualification_topic = outbox  # type: ignore[assignment]
    partitions = pipeline.settings().partitions
    freeze_loaded_objects()
    rounds: list[tuple[float, float, str, Counter[str]]] = []
    for _ in range(args.rounds):
        clear_tables()
        outbox.sent.clear()
        gc.collect()
        spent = asyncio.run(run(pairs, args.batch, partitions, outbox))
        rounds.append((spent, baseline(pairs), tables_digest(), Counter(outbox.sent)))
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
    print("records handed on: " + ", ".join(f"{topic} {n:,}" for topic, n in sorted(rounds[0][3].items())))
    print(f"tables digest: {digests.pop()} ({len(tables.leads_table.data):,} leads)")


if __name__ == "__main__":
    main()
