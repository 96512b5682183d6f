"""The only worker stops, or crashes between its table write and its emit, and starts again."""

from __future__ import annotations

import time

import pytest
import pytest_asyncio

from scoring import has_seen
from streams.contracts import lead_records
from streams.worker.faults import CRASH_EXIT_STATUS
from tests.fault.harness import (
    duplicate_emits, journey, live_accounting, qualification_records, rounds, table_states,
    until_matches, wait_until,
)
from tests.fault.reference import Reference
from tests.integration.pipeline_harness import RunningPipeline, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.asyncio(loop_scope="session")]
CRASHING_LEAD = "write-then-crash"
CRASH_ENV = "LEADSTREAM_FAULT_CRASH_AT"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("restarts"), workers=1,
                                   env={CRASH_ENV: f"after-store:{CRASHING_LEAD}"})
    yield running
    await stop_pipeline(running)


async def restart(pipeline: RunningPipeline) -> float:
    """Starts the (stopped) worker again and returns how long it took to be ready."""
    started = time.monotonic()
    pipeline.worker.start()
    await pipeline.worker.wait_ready()
    return time.monotonic() - started


async def test_a_crash_after_the_state_write_emits_the_change_once_after_recovery(
    pipeline: RunningPipeline, fault_outcome,
):
    warm_up = [message for lead in ("before-crash-1", "before-crash-2") for message in journey(lead)]
    await pipeline.send_all(warm_up)
    await pipeline.changes_for("before-crash-2", count=3)
    crashing = journey(CRASHING_LEAD)
    reference = Reference.of(crashing)
    first_change = next(c for c in reference.changes.values() if c["cause"]["event_id"] == crashing[0]["messageId"])

    await pipeline.send(crashing[0])
    worker = pipeline.worker
    status = await wait_until(lambda: _exited(worker), 30, "the worker to crash at after-store")
    crashed_at = time.monotonic()
    assert status == CRASH_EXIT_STATUS, worker.log_tail()
    # The state reached the changelog; the change was never produced.
    held = (await table_states(pipeline)).get(CRASHING_LEAD.encode())
    assert held is not None and has_seen(lead_records.decode_state(CRASHING_LEAD, held), crashing[0]["messageId"])
    assert not [r for r in qualification_records(pipeline) if r["lead_id"] == CRASHING_LEAD]

    del worker.extra_env[CRASH_ENV]
    restart_s = await restart(pipeline)
    # The redelivered event is handled before the rest are sent: in one batch with them, the
    # account would hear only where the lead stands after the last of them, under that one's id.
    await pipeline.changes_for(CRASHING_LEAD, count=1)
    await pipeline.send_all(crashing[1:])
    differences = await until_matches(pipeline, reference, 30)
    recovery_s = time.monotonic() - crashed_at
    assert not differences, "\n".join(differences)
    copies = [r for r in qualification_records(pipeline) if r["change_id"] == first_change["change_id"]]
    assert len(copies) == 1, copies
    # What was to be sent after the write went out too: the lead's account heard of it.
    def heard(records: list[dict]) -> bool:
        return any(member.get("cause_event_id") == crashing[0]["messageId"]
                   for record in records for member in record["members"])

    # Its own topic, read by its own consumer: it may arrive after the changes that were sent before it.
    await pipeline.recorder.wait_for(pipeline.topic("accounts.members"), heard, timeout=30)
    accounting = await live_accounting(pipeline)
    assert accounting["deduplicated"] >= 1
    fault_outcome(
        "crash between state write and emit", events_sent=len(warm_up) + len(crashing),
        exit_status=status, state_in_changelog=True, change_emitted_before_crash=False,
        change_emitted_after_recovery=len(copies), scored_after_restart=accounting["scored"],
        deduplicated_after_restart=accounting["deduplicated"], restart_s=round(restart_s, 1),
        recovery_s=round(recovery_s, 1),
    )


async def test_a_restarted_worker_resumes_with_its_state_and_emits_no_change_under_a_new_id(
    pipeline: RunningPipeline, fault_outcome,
):
    leads = [f"restart-{n}" for n in range(20)]
    plan = rounds(leads)
    reference = Reference.of([message for round_ in plan for message in round_])
    for round_ in plan[:3]:
        await pipeline.send_all(round_)
    await pipeline.send_all(plan[3])  # still being processed when the worker is told to stop
    stopped_at = time.monotonic()
    assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()
    restart_s = await restart(pipeline)
    for round_ in plan[4:]:
        await pipeline.send_all(round_)
    differences = await until_matches(pipeline, reference, 30)
    recovery_s = time.monotonic() - stopped_at
    assert not differences, "\n".join(differences)
    accounting = await live_accounting(pipeline)
    fault_outcome(
        "restart (SIGTERM the only worker mid-stream, start it again)", events_sent=sum(map(len, plan)),
        leads=len(leads), scored_after_restart=accounting["scored"],
        deduplicated_after_restart=accounting["deduplicated"], changes_expected=len(reference.changes),
        duplicate_change_records=duplicate_emits(pipeline, leads), restart_s=round(restart_s, 1),
        recovery_s=round(recovery_s, 1),
    )


async def _exited(worker) -> int | None:
    return worker.process.poll() if worker.process is not None else None
