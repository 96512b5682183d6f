"""A second worker joins while events flow: the partitions move, nothing is lost or counted twice."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fault.harness import duplicate_emits, live_accounting, rounds, until_matches, wait_until
from tests.fault.reference import Reference
from tests.integration.pipeline_harness import start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.asyncio(loop_scope="session")]
LEADS = [f"rebalance-{n}" for n in range(40)]
SEND_EVERY_S = 0.03  # about 8 s of steady traffic, across which the join and rebalance happen


async def test_a_worker_joining_under_load_loses_and_double_counts_nothing(
    kafka_bootstrap: str, tmp_path, fault_outcome,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path, workers=1)
    try:
        messages = [message for round_ in rounds(LEADS) for message in round_]
        reference = Reference.of(messages)

        async def flow() -> None:
            for message in messages:
                await pipeline.send(message)
                await asyncio.sleep(SEND_EVERY_S)

        sending = asyncio.create_task(flow())

        async def scoring_underway() -> bool:  # the join must fall mid-stream, with events already scored
            return (await live_accounting(pipeline))["scored"] >= len(messages) // 5

        await wait_until(scoring_underway, 30, "the first worker to score a fifth of the events")
        joined_at = time.monotonic()
        newcomer = pipeline.add_worker()
        await newcomer.wait_ready()
        join_s = time.monotonic() - joined_at
        sent_during_join = pipeline.sent
        await sending
        sent_at = time.monotonic()

        differences = await until_matches(pipeline, reference, 45)
        settle_s = time.monotonic() - sent_at
        assert not differences, "\n".join(differences)

        async def settled() -> dict | None:
            accounting = await live_accounting(pipeline)
            return accounting if accounting["balanced"] and accounting["scored"] >= reference.scored else None

        accounting = await wait_until(settled, 20, "both workers' accounting to settle")
        assert accounting["scored"] == reference.scored == len(messages)  # each event scored once, in all
        async def split() -> list[int] | None:
            # Each worker recounts its share when its recovery after the rebalance completes.
            shares = [(await worker.get_json("/stats"))[1]["leads"] for worker in pipeline.workers]
            return shares if all(shares) and sum(shares) == len(LEADS) else None

        shares = await wait_until(split, 20, f"the {len(LEADS)} leads to be split between the two workers")
        fault_outcome(
            "rebalance under load (a second worker joins mid-stream)", events_sent=pipeline.sent,
            sent_before_newcomer_ready=sent_during_join, leads=len(LEADS), scored=accounting["scored"],
            deduplicated=accounting["deduplicated"], received=accounting["received"],
            duplicate_change_records=duplicate_emits(pipeline, LEADS), newcomer_ready_s=round(join_s, 1),
            settled_after_last_send_s=round(settle_s, 1), leads_per_worker=shares,
        )
    finally:
        await stop_pipeline(pipeline)
