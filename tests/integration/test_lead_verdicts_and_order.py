"""The lead API on two workers: sales verdicts `accepted` and `recycle`, and the order GET /leads lists leads in.

The rules are the scoring core's (scoring/feedback.py): `recycle` holds the lead back as a
rejection does (recycled, never hot, until new intent); `accepted` lifts any hold-back, so a
lead sales take back returns to the stage its scores earn at once. leads.feedback carries each
verdict with the stage and temperature after it. The list is ordered hot, warm, cold, then by
score within each (streams/api/lead_view.py `hotness`), merged over both workers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import (
    ICP_TRAITS, RunningPipeline, answers, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
TEMPERATURE_ORDER = {"hot": 0, "warm": 1, "cold": 2}
BANT_MET = {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "Q1"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("verdicts"), workers=2)
    yield running
    await stop_pipeline(running)


def journey(lead: str, email: str, *steps: tuple[str, Any]) -> list[dict[str, Any]]:
    """An identify with an ideal-customer profile at minute 0, then one step a minute."""
    messages: list[dict[str, Any]] = [{"type": "identify", "messageId": f"{lead}-0", "userId": lead,
                                       "traits": {**ICP_TRAITS, "email": email},
                                       "timestamp": "2026-11-02T09:00:00+00:00"}]
    for minute, (kind, what) in enumerate(steps, 1):
        event_id = f"{lead}-{minute}"
        if kind == "track":
            messages.append(track(lead, event_id, what, minute))
        elif kind == "page":
            messages.append(page(lead, event_id, what, minute))
        else:
            messages.append(answers(lead, event_id, minute, **what))
    return messages


HOT_STEPS = (("track", "Case Study Downloaded"), ("page", "/product"), ("track", "Webinar Attended"),
             ("track", "Demo Requested"), ("answers", BANT_MET))  # interest 35, intent 30, BANT met: SQL, hot


async def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    # The API takes changes as JSON only: a body without its content type is refused (415).
    headers = {"Content-Type": "application/json"} if body is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers=headers,
                                   data=orjson.dumps(body) if body is not None else None) as response:
            return response.status, await response.json(content_type=None)


async def hot_lead(api: RunningPipeline, lead: str) -> None:
    await api.send_all(journey(lead, f"{lead}@acme.io", *HOT_STEPS))
    changes = await api.changes_for(lead, count=3)
    assert (changes[-1]["to_stage"], changes[-1]["to_temperature"]) == ("sql", "hot")


async def verdict(api: RunningPipeline, lead: str, worker: int, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """POSTs the verdict to one worker; returns its feedback id and its leads.feedback record once written."""
    status, accepted = await call(f"{api.workers[worker].url}/leads/{lead}/feedback", "POST", body)
    assert status == 202, accepted
    feedback_id = accepted["feedback_id"]
    records = await api.recorder_for("leads.feedback").wait_for(
        api.topic("leads.feedback"), lambda rs: any(r["feedback_id"] == feedback_id for r in rs))
    record = next(r for r in records if r["feedback_id"] == feedback_id)
    assert_matches_contract("leads.feedback", record)
    return feedback_id, record


async def stage_and_temperature(api: RunningPipeline, lead: str) -> tuple[str, str]:
    status, document = await call(f"{api.workers[0].url}/leads/{lead}")
    assert status == 200, document
    return document["stage"], document["temperature"]


async def test_recycle_sends_a_hot_lead_back_to_nurturing_until_new_intent(api: RunningPipeline):
    lead = "verdict-recycle"
    await hot_lead(api, lead)

    feedback_id, record = await verdict(api, lead, 1, {"verdict": "recycle", "by": "rep-3"})

    changes = await api.changes_for(lead, count=4)
    recycled = changes[-1]
    assert (recycled["from_stage"], recycled["from_temperature"]) == ("sql", "hot")
    assert (recycled["to_stage"], recycled["to_temperature"]) == ("recycled", "warm")
    assert recycled["cause"] == {"type": "feedback", "event_id": feedback_id, "detail": "recycle"}
    assert (record["lead_id"], record["verdict"], record["by"], record["reason"]) == (lead, "recycle", "rep-3", None)
    assert (record["stage"], record["temperature"]) == ("recycled", "warm")
    assert await stage_and_temperature(api, lead) == ("recycled", "warm")
    # More reading is not new intent: the old signals do not hand the lead back to sales.
    await api.send(page(lead, f"{lead}-later", "/blog/post", 30))
    await api.settled_accounting()
    assert await stage_and_temperature(api, lead) == ("recycled", "warm")


async def test_accepted_keeps_a_hot_lead_and_takes_a_recycled_one_back_without_new_intent(api: RunningPipeline):
    lead = "verdict-accepted"
    await hot_lead(api, lead)

    _, kept = await verdict(api, lead, 0, {"verdict": "accepted", "by": "rep-9"})
    assert (kept["verdict"], kept["by"], kept["stage"], kept["temperature"]) == ("accepted", "rep-9", "sql", "hot")
    assert await stage_and_temperature(api, lead) == ("sql", "hot")

    await verdict(api, lead, 1, {"verdict": "recycle"})
    assert (await api.changes_for(lead, count=4))[-1]["to_stage"] == "recycled"  # the accept moved nothing
    taken_back, record = await verdict(api, lead, 1, {"verdict": "accepted", "reason": "budget freed up"})

    back = (await api.changes_for(lead, count=5))[-1]
    assert (back["from_stage"], back["from_temperature"]) == ("recycled", "warm")
    assert (back["to_stage"], back["to_temperature"]) == ("sql", "hot")
    assert back["cause"] == {"type": "feedback", "event_id": taken_back, "detail": "accepted"}
    assert (record["verdict"], record["reason"], record["stage"], record["temperature"]) == (
        "accepted", "budget freed up", "sql", "hot")
    assert await stage_and_temperature(api, lead) == ("sql", "hot")
    feedback = await api.recorder.wait_for(api.topic("leads.feedback"), lambda rs: True)
    verdicts = [r["verdict"] for r in feedback if r["lead_id"] == lead]
    assert verdicts == ["accepted", "recycle", "accepted"]


# Scores are engagement (interest + intent - negative); the temperature is not a score band, so
# a warm lead may outscore a hot one and a cold (disqualified) one may outscore them all.
ORDER_LEADS = {
    "order-hot-high": ("acme.io", (("track", "Case Study Downloaded"), ("track", "Webinar Attended"),
                                   ("page", "/pricing"), ("track", "Demo Requested"), ("answers", BANT_MET))),  # 70
    "order-hot-low": ("acme.io", (("track", "Case Study Downloaded"), ("track", "Demo Requested"),
                                  ("answers", BANT_MET))),  # 40
    "order-warm-high": ("acme.io", (("track", "Webinar Attended"), ("track", "Case Study Downloaded"),
                                    ("track", "Whitepaper Downloaded"), ("page", "/pricing"),
                                    ("track", "Demo Requested"))),  # 78, no criterion answered
    "order-warm-low": ("acme.io", (("track", "Webinar Attended"), ("track", "Case Study Downloaded"),
                                   ("page", "/product"))),  # 35
    "order-cold-high": ("rivalscore.com", (("track", "Webinar Attended"), ("track", "Case Study Downloaded"),
                                           ("track", "Whitepaper Downloaded"), ("page", "/pricing"),
                                           ("track", "Demo Requested"), ("track", "Trial Started"))),  # 103, competitor
    "order-cold-low": ("acme.io", (("page", "/blog/hello"),)),  # 2
}
EXPECTED_ORDER = ["order-hot-high", "order-hot-low", "order-warm-high", "order-warm-low", "order-cold-high",
                  "order-cold-low"]


async def listed(api: RunningPipeline, worker: int, limit: int) -> list[dict[str, Any]]:
    status, body = await call(f"{api.workers[worker].url}/leads?limit={limit}")
    assert status == 200, body
    assert body["workers"] == 2
    return body["leads"]


async def test_the_list_puts_hot_before_warm_before_cold_then_orders_by_score(api: RunningPipeline):
    for lead, (domain, steps) in ORDER_LEADS.items():
        await api.send_all(journey(lead, f"{lead}@{domain}", *steps))
    await api.settled_accounting()
    deadline = asyncio.get_running_loop().time() + 30
    while {d["lead_id"] for d in await listed(api, 0, 1000)} < set(ORDER_LEADS):
        assert asyncio.get_running_loop().time() < deadline, "not every lead reached the list"
        await asyncio.sleep(0.2)

    for worker in (0, 1):
        everything = await listed(api, worker, 1000)
        ours = [d for d in everything if d["lead_id"] in ORDER_LEADS]
        assert [d["lead_id"] for d in ours] == EXPECTED_ORDER
        assert [d["temperature"] for d in ours] == ["hot", "hot", "warm", "warm", "cold", "cold"]
        totals = {d["lead_id"]: d["score"]["total"] for d in ours}
        # The scores really do cross the temperature bands: a list by score alone would differ.
        assert totals["order-warm-high"] > totals["order-hot-high"] > totals["order-hot-low"] > totals["order-warm-low"]
        assert totals["order-cold-high"] > totals["order-warm-high"]
        assert ours[4]["stage"] == "disqualified"
        keys = [(TEMPERATURE_ORDER[d["temperature"]], -d["score"]["total"]) for d in everything]
        assert keys == sorted(keys)  # the whole merged list, the other tests' leads included
        for limit in (1, 3):  # a shorter list is the head of the same order, merged over both workers
            assert [d["lead_id"] for d in await listed(api, worker, limit)] == [d["lead_id"] for d in everything[:limit]]
