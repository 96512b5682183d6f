"""A worker is SIGKILLed mid-stream: the survivor takes over and the result is an uninterrupted run's."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fault.harness import (
    alive, duplicate_emits, live_accounting, qualification_records, rounds, until_matches,
    wait_until,
)
from tests.fault.reference import Reference
from tests.integration.pipeline_harness import start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.asyncio(loop_scope="session")]
LEADS = [f"crash-{n}" for n in range(30)]
RECOVERY_LIMIT_S = 60.0


async def test_a_worker_killed_mid_stream_loses_nothing_and_doubles_nothing(
    kafka_bootstrap: str, tmp_path, fault_outcome,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path, workers=2)
    try:
        survivor, victim = pipeline.workers
        plan = rounds(LEADS)
        reference = Reference.of([message for round_ in plan for message in round_])
        for round_ in plan[:2]:
            await pipeline.send_all(round_)

        async def victim_scored() -> bool:
            return (await victim.get_json("/accounting"))[1]["scored"] > 0

        await wait_until(victim_scored, 30, "the victim to score its share")
        await pipeline.send_all(plan[2])  # in flight when the victim dies
        victim.kill()
        killed_at = time.monotonic()
        for round_ in plan[3:]:
            await asyncio.sleep(0.3)
            await pipeline.send_all(round_)

        differences = await until_matches(pipeline, reference, RECOVERY_LIMIT_S)
        recovery_s = time.monotonic() - killed_at
        assert not differences, "\n".join(differences)
        assert alive(pipeline) == [survivor]
        accounting = await live_accounting(pipeline)
        for lead in LEADS[:5]:
            status, document = await pipeline.lead(lead)
            assert status == 200 and document["stage"] == reference.states[lead].stage.value, document
        records = qualification_records(pipeline)
        fault_outcome(
            "worker crash (SIGKILL 1 of 2 mid-stream)", events_sent=pipeline.sent, leads=len(LEADS),
            scored_by_survivor=accounting["scored"], deduplicated_by_survivor=accounting["deduplicated"],
            changes_expected=len(reference.changes), change_records=len(records),
            duplicate_change_records=duplicate_emits(pipeline, LEADS), recovery_s=round(recovery_s, 1),
        )
    finally:
        await stop_pipeline(pipeline)
