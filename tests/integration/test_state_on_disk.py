"""Tables on RocksDB: a worker started again on its data directory reads only the changelogs' tail.

What the worker restored is read from its own metric (leadstream_state_restored_records_total), and
what it should have restored from the offsets stored on disk against the changelogs' end offsets:
never from how long the start took.
"""

from __future__ import annotations

import time

import pytest

from bench.kafka_io import preload
from bench.memory import changelog_topic, compacted
from bench.workload import generate
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, metric_total, start_pipeline, stop_pipeline,
)
from tests.integration.stored_offsets import changelog_tail, restored_records

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
    assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()
    tail = await changelog_tail(pipeline.worker)
    pipeline.worker.start()
    await pipeline.worker.wait_ready(timeout=120)
    assert await restored_records(pipeline.worker) == tail
    return tail


async def test_a_worker_restarted_on_its_data_dir_holds_every_lead_and_reads_only_the_changelog_tail(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("on-disk"),
                                    env={"LEADSTREAM_STORE": "rocksdb"})
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
