"""Reads that stay bounded however many leads a worker holds, on Apache Kafka.

The list and the board rank leads from the lead index (streams/worker/lead_index.py): a request
decodes about ``limit`` leads (``leadstream_list_leads_decoded_total``), not every lead held. The
board's event streams are capped per worker (LEADSTREAM_BOARD_MAX_STREAMS): past it, 503.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.pipeline_harness import (
    RunningPipeline, answers, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.security, pytest.mark.asyncio(loop_scope="session")]
COLD_LEADS = 600
HOT_LEADS = [f"bounded-hot-{n}" for n in range(4)]
MAX_STREAMS = 2


def hot_journey(lead: str) -> list[dict[str, Any]]:
    return [identify(lead, f"{lead}-1", f"{lead}@acme.io", 0), track(lead, f"{lead}-2", "Case Study Downloaded", 1),
            page(lead, f"{lead}-3", "/product", 2), track(lead, f"{lead}-4", "Webinar Attended", 3),
            track(lead, f"{lead}-5", "Demo Requested", 4),
            answers(lead, f"{lead}-6", 5, budget="yes", authority="yes", need="yes", timeline="Q1")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def held(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("bounded"), workers=1,
                                   env={"LEADSTREAM_BOARD_MAX_STREAMS": str(MAX_STREAMS)})
    await running.send_all(identify(f"bounded-cold-{n}", f"bounded-cold-{n}-1", f"c{n}@acme.io", 0)
                           for n in range(COLD_LEADS))
    for lead in HOT_LEADS:
        await running.send_all(hot_journey(lead))
    for lead in HOT_LEADS:
        await running.changes_for(lead, count=3)
    await running.settled_accounting()
    yield running
    await stop_pipeline(running)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def decoded(worker: str) -> float:
    """The worker's count of leads decoded for lists so far."""
    status, text = await get(f"{worker}/metrics")
    assert status == 200
    return next(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith("leadstream_list_leads_decoded_total "))


async def leads_held(worker: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{worker}/stats") as response:
        return (await response.json())["leads"]


async def test_the_list_and_the_board_decode_about_the_limit_not_every_lead_held(held: RunningPipeline):
    worker = held.workers[0].url
    deadline = asyncio.get_running_loop().time() + 30
    while await leads_held(worker) < COLD_LEADS + len(HOT_LEADS):
        assert asyncio.get_running_loop().time() < deadline, "the worker never held every lead"
        await asyncio.sleep(0.2)

    before = await decoded(worker)
    async with aiohttp.ClientSession() as session, session.get(f"{worker}/leads?limit=5") as response:
        assert response.status == 200
        listed = (await response.json())["leads"]
    after_list = await decoded(worker)
    status, board = await get(f"{worker}/board")
    after_board = await decoded(worker)

    assert [d["temperature"] for d in listed] == ["hot"] * 4 + ["cold"]
    assert {d["lead_id"] for d in listed[:4]} == set(HOT_LEADS)
    assert 5 <= after_list - before <= 15  # ~ the limit, of 604 leads held
    assert status == 200 and all(lead in board for lead in HOT_LEADS)
    assert after_board - after_list == len(HOT_LEADS)  # the board reads the hot band only


async def test_event_streams_past_the_cap_are_answered_503_and_a_freed_slot_is_taken_again(held: RunningPipeline):
    url = f"{held.workers[0].url}/board/events"
    async with aiohttp.ClientSession() as session:
        streams = [await session.get(url) for _ in range(MAX_STREAMS)]
        assert [s.status for s in streams] == [200] * MAX_STREAMS
        async with session.get(url) as refused:
            assert refused.status == 503
            assert int(refused.headers["Retry-After"]) >= 1
            assert "LEADSTREAM_BOARD_MAX_STREAMS" in (await refused.json())["error"]
        streams[0].close()  # the browser leaves: its slot frees once the worker notices
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            again = await session.get(url)
            if again.status == 200:
                break
            again.close()
            assert asyncio.get_running_loop().time() < deadline, "a closed stream never freed its slot"
            await asyncio.sleep(0.5)
        for stream in (*streams[1:], again):
            stream.close()
