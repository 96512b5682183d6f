"""Tables on RocksDB: a worker started again on its data directory reads only the changelogs' tail.

What the worker restored is read from its own metric (leadstream_state_restored_records_total), and
what it should have restored from the offsets stored on disk against the changelogs' end offsets:
never from how long the start took.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from bench.kafka_io import preload
from bench.memory import changelog_topic, compacted
from bench.workload import generate
from streams.contracts.partitioning import partition_for
from streams.worker.state_retention import REBUILD_AFTER_S, WRITTEN_AT_KEY, written_at
from tests.fault.harness import read_topic
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, identify, metric_total, page, start_pipeline, stop_pipeline,
)
from tests.integration.stored_offsets import (
    TABLES, changelog_span, changelog_tail, naming, partition_dbs, restored_records, rewrite, stored_offsets,
    stored_times,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

EVENTS, LEADS = 3_000, 200
REMADE = "leadstream_lead_summaries_remade_total"
VISITORS_REMADE = "leadstream_visitor_summaries_remade_total"


def _app_id(pipeline: RunningPipeline) -> str:
    return pipeline.worker.extra_env["LEADSTREAM_APP_ID"]


async def _send_workload(pipeline: RunningPipeline) -> None:
    workload = generate(EVENTS, LEADS, seed=11, start=1_790_000_000.0, spacing_s=0.5)
    await preload(pipeline.bootstrap, pipeline.topic("leads.events.raw"), workload.pairs(), TEST_PARTITIONS, {},
                  timestamp_ms=int(time.time() * 1000))
    pipeline.sent += len(workload)


async def _settle(pipeline: RunningPipeline) -> dict:
    """The worker process's accounting (counted since it started) once it has everything sent since then."""
    accounting = await pipeline.settled_accounting(timeout=120)
    await pipeline.committed_everything(timeout=120)
    return accounting


async def _restart(pipeline: RunningPipeline, **env: str) -> None:
    assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()
    pipeline.worker.extra_env.update(env)
    pipeline.worker.start()
    await pipeline.worker.wait_ready(timeout=120)


async def _loaded(pipeline: RunningPipeline) -> tuple[dict, int]:
    """The workload scored: the worker's /stats and the number of leads in the leads changelog."""
    await _send_workload(pipeline)
    await _settle(pipeline)
    _, stats = await pipeline.worker.get_json("/stats")
    leads = await compacted(pipeline.bootstrap, changelog_topic(_app_id(pipeline), "leads"), TEST_PARTITIONS, {})
    return stats, len(leads)


async def _restart_reading_the_tail(pipeline: RunningPipeline) -> dict[str, int]:
    """SIGTERM, start again on the same data dir: the worker must read exactly the tail after the offsets on disk."""
    stopping_at = time.time()
    assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()
    # A clean stop dates every recovered active partition now, not at its last write: a quiet partition is not
    # rebuilt when the worker comes back after the bound (12 hours) without having missed anything.
    data_dir = _data_dir(pipeline.worker)
    assert all(at >= stopping_at for at in stored_times(data_dir, "leads").values()), stored_times(data_dir, "leads")
    assert stored_times(data_dir, "leads").keys() == stored_offsets(data_dir, "leads").keys()
    tail = await changelog_tail(pipeline.worker)
    pipeline.worker.start()
    await pipeline.worker.wait_ready(timeout=120)
    assert await restored_records(pipeline.worker) == tail
    return tail


async def test_a_worker_restarted_on_its_data_dir_holds_every_lead_and_reads_only_the_changelog_tail(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("on-disk"))  # rocksdb: the default
    try:
        stats_before, leads = await _loaded(pipeline)
        assert leads > LEADS * 0.7

        tail = await _restart_reading_the_tail(pipeline)
        assert tail["leads"] < leads  # not the whole changelog: the offsets on disk were used
        # ... and the recount after it read the summaries kept beside the leads and visitors, decoding none.
        assert await metric_total(pipeline, REMADE) == 0
        assert await metric_total(pipeline, VISITORS_REMADE) == 0
        _, stats_after = await pipeline.worker.get_json("/stats")
        assert stats_before["anonymous_visitors_held"] > 0
        assert stats_after == stats_before  # every lead and held visitor, in the stage and temperature it had
        # ... and knows every event it had scored: the same workload again scores nothing twice.
        pipeline.sent = 0  # the accounting counts from the restart
        await _send_workload(pipeline)
        again = await _settle(pipeline)
        assert again["scored"] == 0 and again["deduplicated"] > 0, again
    finally:
        await stop_pipeline(pipeline)


async def test_a_worker_upgraded_from_the_memory_store_rebuilds_once_then_restarts_from_the_tail(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("upgrade"),
                                    env={"LEADSTREAM_STORE": "memory"})
    try:
        stats_before, leads = await _loaded(pipeline)

        await _restart(pipeline, LEADSTREAM_STORE="rocksdb")  # the upgrade: same data dir, nothing on disk yet
        rebuilt = await restored_records(pipeline.worker)
        assert rebuilt["leads"] >= leads  # the whole changelog (at least every lead's last record)
        assert (await pipeline.worker.get_json("/stats"))[1] == stats_before

        tail = await _restart_reading_the_tail(pipeline)
        assert tail["leads"] < leads
        assert (await pipeline.worker.get_json("/stats"))[1] == stats_before
        assert await metric_total(pipeline, REMADE) == 0  # summaries made as the changelog was read, kept since
        assert await metric_total(pipeline, VISITORS_REMADE) == 0
    finally:
        await stop_pipeline(pipeline)


def _data_dir(worker) -> Path:
    return Path(worker.extra_env["LEADSTREAM_DATA_DIR"])


async def _erase(pipeline: RunningPipeline, lead: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.delete(f"{pipeline.worker.url}/leads/{lead}") as response:
            assert response.status == 200, await response.text()
    deadline = time.monotonic() + 30
    while (await pipeline.lead(lead))[0] != 404:
        assert time.monotonic() < deadline, f"{lead} was never erased"
        await asyncio.sleep(0.2)
    await pipeline.committed_everything()


async def _before_the_erasure(pipeline: RunningPipeline, needle: bytes) -> dict[str, dict[bytes, bytes]]:
    """Per table, each key naming ``needle`` with its last value before its tombstone: the disk before the erasure."""
    app_id = _app_id(pipeline)
    held: dict[str, dict[bytes, bytes]] = {}
    for table in TABLES:
        latest: dict[bytes, bytes] = {}
        for key, value in await read_topic(pipeline.bootstrap, changelog_topic(app_id, table)):
            if key is not None and value is not None and (needle in key or needle in value):
                latest[key] = value
        held[table] = latest
    return held


async def test_an_erased_lead_never_comes_back_from_a_disk_older_than_its_tombstones_could_be(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("stale-disk"))
    erased, kept = "gone-from-disk", "kept-on-disk"
    try:
        for lead in (erased, kept):
            await pipeline.send_all([identify(lead, f"{lead}-1", f"{lead}@acme.io", 0),
                                     page(lead, f"{lead}-2", "/pricing", 1)])
        await pipeline.caught_up()
        held = await _before_the_erasure(pipeline, erased.encode())
        assert held["leads"], "the lead never reached its changelog"
        await _erase(pipeline, erased)
        assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()

        # Simulated: what a disk looks like once a day has passed and compaction removed the tombstones. Its
        # partitions hold the erased lead as before the erasure, with offsets after it and stored times
        # older than the bound; Kafka's compaction itself cannot be hurried in a test.
        data_dir, aged = _data_dir(pipeline.worker), written_at(time.time() - REBUILD_AFTER_S - 60)
        for table in TABLES:
            for partition, path in partition_dbs(data_dir, table).items():
                entries = {key: value for key, value in held[table].items()
                           if partition_for(key, TEST_PARTITIONS) == partition}
                rewrite(path, {**entries, WRITTEN_AT_KEY: aged})
        assert naming(data_dir, erased.encode())  # the stale disk names the lead
        dated = sum(len(stored_offsets(data_dir, table)) for table in TABLES)  # partitions with state to rebuild
        whole = {table: sum(end - first for first, end in (await changelog_span(
            pipeline.bootstrap, _app_id(pipeline), table)).values()) for table in TABLES}

        pipeline.worker.start()
        await pipeline.worker.wait_ready(timeout=120)

        assert (await pipeline.lead(erased))[0] == 404
        assert (await pipeline.lead(kept))[0] == 200
        assert await restored_records(pipeline.worker) == whole  # every changelog read from its start
        assert await metric_total(pipeline, "leadstream_state_rebuilt_partitions_total") == dated
        assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()
        assert naming(data_dir, erased.encode()) == []
    finally:
        await stop_pipeline(pipeline)


async def test_a_partition_a_joining_worker_takes_over_leaves_the_first_workers_disk(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    # No standby copies: with one, the first worker would stand by for every partition the second takes.
    no_standby = {"LEADSTREAM_STANDBY_REPLICAS": "0"}
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("handed-over"), env=no_standby)
    try:
        await _loaded(pipeline)
        first = _data_dir(pipeline.worker)
        assert set(partition_dbs(first, "leads")) == set(range(TEST_PARTITIONS))

        second = pipeline.add_worker()
        await second.wait_ready(timeout=120)
        deadline = time.monotonic() + 60
        while True:  # until the rebalance has settled on both workers
            held = [set(partition_dbs(first, "leads")), set(partition_dbs(_data_dir(second), "leads"))]
            stats = [(await worker.get_json("/stats"))[1]["leads"] for worker in pipeline.workers]
            if held[0].isdisjoint(held[1]) and held[0] | held[1] == set(range(TEST_PARTITIONS)) and all(stats):
                break
            assert time.monotonic() < deadline, (held, stats)
            await asyncio.sleep(0.5)
        assert held[0] and held[1], held  # each kept only its own partitions, on every table
        for table in TABLES:
            assert set(partition_dbs(first, table)) <= held[0], table
    finally:
        await stop_pipeline(pipeline)
