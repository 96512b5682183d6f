"""Two workers share the partitions: every lead is scored once, by the worker that owns it."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from tests.integration.pipeline_harness import (
    RunningPipeline, identify, identify_visitor, page, start_pipeline, stop_pipeline, track, visit,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
LEADS = [f"shared-{n}" for n in range(24)]
SERVED_BY_HEADER = "X-Leadstream-Served-By"  # the worker that answered a forwarded lead request


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def two_workers(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("two-workers"), workers=2)
    yield running
    await stop_pipeline(running)


async def _leads_held_by_each(pipeline: RunningPipeline) -> list[int]:
    """How many leads each worker holds (its /stats `leads`)."""
    counts = []
    for worker in pipeline.workers:
        _, stats = await worker.get_json("/stats")
        counts.append(stats["leads"])
    return counts


async def test_two_workers_score_every_lead_exactly_once_between_them(two_workers: RunningPipeline):
    for lead in LEADS:
        await two_workers.send_all([
            identify(lead, f"{lead}-1", f"{lead}@acme.io", 0),
            page(lead, f"{lead}-2", "/pricing", 1),
            track(lead, f"{lead}-3", "Demo Requested", 2),
            track(lead, f"{lead}-4", "Trial Started", 3),
            track(lead, f"{lead}-5", "Feature Used", 4),
        ])
    for lead in LEADS:
        changes = await two_workers.changes_for(lead, count=3)
        # Intent warms them up; a trial with product use makes these fitting leads PQLs.
        assert [(c["to_stage"], c["to_temperature"]) for c in changes] == [
            ("iql", "cold"), ("iql", "warm"), ("pql", "warm")], lead

    accounting = await two_workers.settled_accounting()
    assert accounting["received"] == two_workers.sent == 5 * len(LEADS)
    assert accounting["scored"] == 5 * len(LEADS)
    assert accounting["deduplicated"] == 0
    held_by_each = await _leads_held_by_each(two_workers)  # settled: every event is scored
    # Both workers did real work, and no lead is held twice.
    assert all(count > 0 for count in held_by_each), held_by_each
    assert sum(held_by_each) == len(LEADS)


async def test_anonymous_history_is_stitched_across_the_two_workers_and_credited_once(
    two_workers: RunningPipeline,
):
    before = await two_workers.settled_accounting()
    leads = [f"two-stitch-{n}" for n in range(8)]
    for lead in leads:
        await two_workers.send_all([visit(f"{lead}-v", f"{lead}-1", "/pricing", 0),
                                    visit(f"{lead}-v", f"{lead}-2", "/product", 1)])
    held = await two_workers.settled_accounting()
    assert held["held"] - before["held"] == 2 * len(leads)

    for lead in leads:
        await two_workers.send(identify_visitor(lead, f"{lead}-v", f"{lead}-id", f"{lead}@acme.io", 2))
        await two_workers.send(identify_visitor(lead, f"{lead}-v", f"{lead}-id-again", f"{lead}@acme.io", 3))
    # The identifies alone balance the accounting while the visits are still held: wait for the releases.
    for _ in range(150):
        if (await two_workers.settled_accounting())["held"] == before["held"]:
            break
        await asyncio.sleep(0.2)
    after = await two_workers.settled_accounting()

    assert after["held"] == before["held"]
    assert after["scored"] - before["scored"] == 4 * len(leads)
    for lead in leads:
        status, document = await two_workers.lead(lead)
        assert status == 200, document
        assert {c["signal"]: c["count"] for c in document["contributions"]} == {"pricing_view": 1, "product_view": 1}


async def test_a_lead_whose_worker_died_is_answered_503_with_a_retry_until_its_partition_moves(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("owner-died"), workers=2)
    try:
        for lead in LEADS[:8]:
            await pipeline.send_all([identify(lead, f"{lead}-died-1", f"{lead}@acme.io", 0)])
        await pipeline.settled_accounting()
        survivor, doomed = pipeline.workers
        # A lead the doomed worker owns, as the survivor sees it: the survivor forwards its requests.
        elsewhere = [lead for lead in LEADS[:8]
                     if URL((await _get(survivor, f"/leads/{lead}"))[2][SERVED_BY_HEADER]).port == URL(doomed.url).port]
        assert elsewhere, "the doomed worker owns none of the leads"
        doomed.kill()
        status, body, headers = await _get(survivor, f"/leads/{elsewhere[0]}")
        assert status == 503 and "retry" in body["error"], (status, body)
        assert headers["Retry-After"] == "6"  # the group's session timeout: by then the partition has moved
    finally:
        await stop_pipeline(pipeline)


async def _get(worker, path: str) -> tuple[int, dict, dict[str, str]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(worker.url + path) as response:
            return response.status, await response.json(content_type=None), dict(response.headers)
