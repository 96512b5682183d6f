"""A worker killed in the middle of a batch: its replacement recovers exactly the table an uninterrupted run builds.

The worker scores whole batches and writes each lead once per batch, with the changelog
record on the lead's own partition. A SIGKILL while a batch is in flight, then a fresh worker
in the same group: it recovers the table from the changelog, resumes from the committed
offsets, sees the redelivered events again (recognised by id) and must end with every lead's
state byte for byte what a run that was never interrupted holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from aiokafka import TopicPartition

import scoring
from bench.kafka_io import preload
from bench.memory import changelog_topic, compacted
from bench.workload import generate
from scoring.accounts import Member
from streams.contracts import account_records
from streams.devtools.processes import WorkerProcess
from tests.integration.pipeline_harness import TEST_PARTITIONS, RunningPipeline, start_pipeline, stop_pipeline
from tests.integration.stored_offsets import changelog_tail, restored_records

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

EVENTS, LEADS = 6_000, 300
START = 1_790_000_000.0  # fixed event times: both runs see identical events
# The workers' clock stands at the first event, so no demotion falls due: a demotion fires when
# the timer runs, and where it falls between a lead's events would differ from run to run.
# Demotions have tests of their own (test_demotions.py).
STILL_CLOCK_ENV = {"LEADSTREAM_CLOCK": "fixed:2026-09-21T14:13:20+00:00"}
# One receipt time for every record of both runs: held visitors remember when they were seen.
RECEIVED_MS = int(time.time() * 1000)


def _workload():
    return generate(EVENTS, LEADS, seed=5, start=START, spacing_s=0.5)


def _app_id(pipeline: RunningPipeline) -> str:
    return pipeline.worker.extra_env["LEADSTREAM_APP_ID"]


async def _send(pipeline: RunningPipeline) -> None:
    workload = _workload()
    await preload(pipeline.bootstrap, pipeline.topic("leads.events.raw"), workload.pairs(), TEST_PARTITIONS, {},
                  timestamp_ms=RECEIVED_MS)
    pipeline.sent = len(workload)


def _raw_partitions(pipeline: RunningPipeline) -> list[TopicPartition]:
    return [TopicPartition(pipeline.topic("leads.events.raw"), p) for p in range(TEST_PARTITIONS)]


# Every table a worker keeps per lead (state and history) or visitor: compared byte for byte.
TABLES = ("leads", "visitors")


async def _tables(pipeline: RunningPipeline) -> dict[str, dict[bytes, bytes]]:
    return {table: await compacted(pipeline.bootstrap, changelog_topic(_app_id(pipeline), table), TEST_PARTITIONS, {})
            for table in (*TABLES, "accounts")}


def _members(accounts: dict[bytes, bytes]) -> dict[bytes, Mapping[str, Member]]:
    return {domain: account_records.decode_account(domain.decode(), value).members for domain, value in accounts.items()}


@pytest.fixture(scope="module")
def still_clock_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    model = tmp_path_factory.mktemp("model") / "model.toml"
    text = (Path(scoring.__file__).parent / "default_model.toml").read_text()
    assert "max_members = 50" in text
    model.write_text(text.replace("max_members = 50", f"max_members = {LEADS}"))
    # Batches of a few hundred records, so that the kill lands with many batches done and many to go.
    return {**STILL_CLOCK_ENV, "LEADSTREAM_MODEL": str(model), "LEADSTREAM_MAX_BATCH_RECORDS": "200"}


# On RocksDB the replacement opens the killed worker's data dir (the same LEADSTREAM_DATA_DIR): what it holds
# there, with the offsets stored beside it, must add up with the changelog's tail to the uninterrupted table.
@pytest.mark.parametrize("store", ["rocksdb", "memory"])
async def test_a_worker_killed_mid_batch_recovers_the_table_of_an_uninterrupted_run(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, still_clock_env: dict[str, str], store: str,
):
    still_clock_env = {**still_clock_env, "LEADSTREAM_STORE": store}
    uninterrupted = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("uninterrupted"), env=still_clock_env)
    try:
        await _send(uninterrupted)
        accounting = await uninterrupted.settled_accounting(timeout=120)
        assert accounting["received"] == EVENTS and accounting["balanced"]
        await uninterrupted.committed_everything(timeout=120)
        expected = await _tables(uninterrupted)
        _, expected_stats = await uninterrupted.worker.get_json("/stats")
    finally:
        await stop_pipeline(uninterrupted)

    # Production's commit interval, not the suite's half second: the kill must find handled work
    # not yet committed, which commits twice a second would make a matter of luck.
    crashed = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("crashed"),
                                   env={**still_clock_env, "LEADSTREAM_COMMIT_INTERVAL_S": "2.8"})
    replacement: WorkerProcess | None = None
    try:
        await _send(crashed)
        deadline = time.monotonic() + 60
        while (await crashed.accounting())["received"] < EVENTS * 0.4:
            assert time.monotonic() < deadline, "the worker made no progress"
            await asyncio.sleep(0.05)
        received_before_kill = (await crashed.accounting())["received"]
        assert received_before_kill < EVENTS, "too late: the whole workload was done"
        crashed.worker.kill()  # SIGKILL while batches are in flight: no commit, no flush, no goodbye
        # Nothing commits for the group any more: what the broker holds now is where the replacement
        # resumes. Behind what the worker had received, so it reads again work whose table writes
        # (some of them, at least) were already sent: the recovery below is put to the test.
        committed_at_kill = sum((await crashed.committed_offsets(_raw_partitions(crashed))).values())
        assert committed_at_kill < received_before_kill, (committed_at_kill, received_before_kill)

        first = crashed.worker
        tail = await changelog_tail(first) if store == "rocksdb" else None
        replacement = WorkerProcess(first.bootstrap, Path(str(first.log_path) + ".replacement"), env=first.extra_env)
        replacement.start()
        await replacement.wait_ready(timeout=120)
        if tail is not None:  # it read the tail after the offsets the killed worker left on disk, and only that
            assert await restored_records(replacement) == tail
        crashed.workers = [replacement]
        await crashed.committed_everything(timeout=120)
        recovered = await _tables(crashed)
        _, recovered_stats = await replacement.get_json("/stats")
    finally:
        await stop_pipeline(crashed)

    # Three in four of the workload's leads identify themselves; the rest stay anonymous visitors.
    assert len(expected["leads"]) > LEADS * 0.7 and expected["visitors"]
    for table in TABLES:
        assert recovered[table].keys() == expected[table].keys(), table
        different = [key for key in expected[table] if recovered[table][key] != expected[table][key]]
        assert not different, (f"{table}: {len(different)} keys differ, e.g. {different[0]!r}: "
                               f"{expected[table][different[0]]!r} != {recovered[table][different[0]]!r}")
    # Accounts hear from members on several partitions, interleaved as they happen to arrive, and
    # an account's temperature (with hysteresis) follows that order: its members must match. (Up
    # to max_members, which the model file here raises: which members a full account drops for
    # newer ones depends on that order too.)
    assert expected["accounts"] and _members(recovered["accounts"]) == _members(expected["accounts"])
    # The replacement's own view (its table, as recovered and then updated) agrees too.
    assert recovered_stats == expected_stats
