"""What a worker's RocksDB tables hold on disk against their changelogs: the tail a restart must read.

A worker reports what it restored in leadstream_state_restored_records_total; these read what it
should have, from the offsets Faust's store keeps on disk and the changelogs' offsets on the broker.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import rocksdict
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.memory import changelog_topic
from streams.devtools.processes import WorkerProcess
from streams.worker.state_retention import WRITTEN_AT_KEY
from tests.integration.pipeline_harness import TEST_PARTITIONS

TABLES = ("leads", "visitors", "accounts", "emails", "erasures", "shadow_leads")
OFFSET_KEY = b"__faust\0offset__"  # where Faust's RocksDB store keeps a partition's changelog offset
RESTORED = "leadstream_state_restored_records_total"


def stored_offsets(data_dir: Path, table: str) -> dict[int, int]:
    """Per partition, the changelog offset stored on disk with the table's database (none stored: absent)."""
    return {partition: int(stored) for partition, stored in _stored(data_dir, table, OFFSET_KEY).items()}


def stored_times(data_dir: Path, table: str) -> dict[int, float]:
    """Per partition, the wall time stored with the offset (when that offset's record was written, or later)."""
    return {partition: float(stored) for partition, stored in _stored(data_dir, table, WRITTEN_AT_KEY).items()}


def _stored(data_dir: Path, table: str, key: bytes) -> dict[int, bytes]:
    values = {}
    for partition, path in partition_dbs(data_dir, table).items():
        db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True),
                             access_type=rocksdict.AccessType.read_only())
        try:
            stored = db.get(key)
        finally:
            db.close()
        if stored is not None:
            values[partition] = stored
    return values


async def changelog_span(bootstrap: str, app_id: str, table: str) -> dict[int, tuple[int, int]]:
    """Per partition, the (first, next) offsets of the table's changelog."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(changelog_topic(app_id, table), p) for p in range(TEST_PARTITIONS)]
        first, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        return {tp.partition: (first[tp], end[tp]) for tp in tps}
    finally:
        await consumer.stop()


async def changelog_tail(worker: WorkerProcess) -> dict[str, int]:
    """Per table, how many changelog records lie after the offsets on the (stopped) worker's disk."""
    data_dir, app_id = Path(worker.extra_env["LEADSTREAM_DATA_DIR"]), worker.extra_env["LEADSTREAM_APP_ID"]
    tails = {}
    for table in TABLES:
        stored = stored_offsets(data_dir, table)
        tails[table] = sum(end - (stored[p] + 1 if p in stored else first)
                           for p, (first, end) in (await changelog_span(worker.bootstrap, app_id, table)).items())
    return tails


async def restored_records(worker: WorkerProcess) -> dict[str, int]:
    """Per table, the changelog records the worker read into its local tables since it started."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{worker.url}/metrics") as response:
            text = await response.text()
    counts = {table: 0 for table in TABLES}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == RESTORED:
                counts[sample.labels["table"]] = int(sample.value)
    return counts


def partition_dbs(data_dir: Path, table: str) -> dict[int, Path]:
    """The table's partition databases under a worker's data dir, by partition."""
    return {partition: paths[0] for partition in range(TEST_PARTITIONS)
            if (paths := list(data_dir.rglob(f"{table}-{partition}.db")))}


def rewrite(path: Path, entries: dict[bytes, bytes]) -> None:
    """Put ``entries`` into a stopped worker's partition database, as an older disk would hold them."""
    db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
    try:
        for key, value in entries.items():
            db[key] = value
    finally:
        db.close()


def naming(data_dir: Path, needle: bytes) -> list[str]:
    """Every entry of the (stopped) worker's tables on disk whose key or value contains ``needle``."""
    found = []
    for table in TABLES:
        for partition, path in partition_dbs(data_dir, table).items():
            db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True),
                                 access_type=rocksdict.AccessType.read_only())
            try:
                found += [f"{table}-{partition}: {key!r}" for key, value in db.items()
                          if needle in key or needle in value]
            finally:
                db.close()
    return found
