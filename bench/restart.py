"""Restart at scale: a worker holding N leads, started from its changelog and again on its data dir, per store.

``python -m bench.restart --leads 100000`` (Apache Kafka as ``leadstream bench`` starts it). The leads
are real final records: the in-process pipeline (``bench.topology``) scores a small workload and its
leads are cloned under new ids to N, then written to a fresh app's changelog, as ``bench.memory``
does. Per store, a worker recovers them (the first start: the whole changelog), is stopped with
SIGTERM and started again on the same data dir. Reported per start: seconds to ``/healthz`` and
every lead counted, resident memory, records restored; and the data dir's size on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.cli import BenchOptions, _broker
from bench.kafka_io import warm_up_groups
from bench.memory import PER_LEAD_TABLES, _census, cloned, preloaded_app
from bench.throughput import Bench, _start_ready, rss_bytes
from bench.topology import final_leads
from bench.workload import generate


async def source_leads(leads: int, recent: bool = False) -> dict[bytes, bytes]:
    """Each lead's final record after the pipeline scored ``leads`` leads' worth of the realistic workload.

    ``recent``: the events end about now, not in November 2025 (a worker on the wall clock then has no
    demotions of every lead to catch up on when it starts).
    """
    if not recent:
        workload = generate(leads * 10, leads, seed=7, start=1_764_000_000.0)
        return await final_leads(list(workload.pairs()))
    workload = generate(leads * 10, leads, seed=7)
    return await final_leads(list(workload.pairs()), received_at=time.time())


async def metric_total(url: str, name: str, **labels: str) -> float:
    """The sum of a worker's samples of metric ``name`` whose labels include ``labels``, from its /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


async def restored_leads(url: str) -> int:
    """The lead records the worker read from the changelog since it started (its RocksDB store counts them)."""
    return int(await metric_total(url, "leadstream_state_restored_records_total", table="leads"))


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def starts(bench: Bench, store: str, pairs: list[tuple[bytes, bytes]]) -> list[dict[str, float]]:
    prefix = await preloaded_app(bench, f"restart-{store}", dict.fromkeys(PER_LEAD_TABLES, pairs))
    worker = bench.process(prefix)
    worker.extra_env["LEADSTREAM_STORE"] = store
    measured = []
    for start in ("first start", "restart"):
        began = time.monotonic()
        await _start_ready([worker], settle_s=0.2, timeout_s=3_600)  # a first start recovers every lead first
        leads = await _census(worker, len(pairs), timeout_s=1_800)
        seconds = time.monotonic() - began
        restored = await restored_leads(worker.url) if store == "rocksdb" else len(pairs)
        measured.append({"start": start, "seconds": round(seconds, 1), "leads": leads,
                         "rss_mb": round(rss_bytes(worker) / 2**20), "restored_records": restored})
        assert worker.stop() == 0, worker.log_tail()
        measured[-1]["disk_mb"] = round(disk_bytes(Path(worker.extra_env["LEADSTREAM_DATA_DIR"])) / 2**20, 1)
    return measured


async def main_async(leads: int, source: int, stores: list[str]) -> None:
    records = await source_leads(source, recent=True)  # else nearly every lead is due for a demotion at once
    pairs = cloned(records, leads)
    print(f"{len(pairs):,} leads (cloned from {len(records):,}; mean record {sum(map(len, records.values())) / len(records):,.0f} B)")
    workdir = Path(tempfile.mkdtemp(prefix="leadstream-restart-"))
    options = BenchOptions()
    with _broker(options, workdir, print) as broker:
        bench = Bench(broker, workdir, options.partitions, print)
        await warm_up_groups(broker.bootstrap, broker.client_kwargs)
        for store in stores:
            for row in await starts(bench, store, pairs):
                print(f"{store:8} {row['start']:12} {row['seconds']:7.1f} s  {row['rss_mb']:5} MB resident"
                      f"  {row['restored_records']:>9,} records restored  {row['disk_mb']:8.1f} MB on disk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--source-leads", type=int, default=2_000, help="leads scored, then cloned to --leads")
    parser.add_argument("--stores", default="rocksdb,memory")
    args = parser.parse_args()
    logging.getLogger("aiokafka.producer.sender").setLevel(logging.ERROR)  # a new topic's leaders settle: retried
    os.environ.pop("LEADSTREAM_STORE", None)  # bench.topology's in-process default is not the workers'
    asyncio.run(main_async(args.leads, args.source_leads, args.stores.split(",")))


if __name__ == "__main__":
    main()
