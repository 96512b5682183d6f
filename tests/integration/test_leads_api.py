"""The lead API on two workers: routed to the owner, merged lists, erasure, feedback, a bearer token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from scoring.model_loading import load_model
from streams.contracts.encoding import iso_time
from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import (
    SCRIPTED_CLOCK_ENV, RunningPipeline, answers, at, identify, page, start_pipeline, stop_pipeline, track, visit,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
TOKEN = "s3cret-read-token-of-32-characters"
ADMIN_TOKEN = "s3cret-admin-token-of-32-characters"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LEADS = [f"api-{n}" for n in range(10)]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("api"), workers=2,
                                   env={"LEADSTREAM_API_TOKEN": TOKEN, "LEADSTREAM_ADMIN_TOKEN": ADMIN_TOKEN})
    for lead in LEADS:
        await running.send_all(hot_journey(lead))
    for lead in LEADS:
        await running.changes_for(lead, count=3)
    yield running
    await stop_pipeline(running)


def worker_clock_now() -> float:
    """The time the workers' fixed clock reads."""
    return datetime.fromisoformat(SCRIPTED_CLOCK_ENV["LEADSTREAM_CLOCK"].removeprefix("fixed:")).timestamp()


def hot_journey(lead: str) -> list[dict[str, Any]]:
    return [
        identify(lead, f"{lead}-1", f"{lead}@acme.io", 0),
        track(lead, f"{lead}-2", "Case Study Downloaded", 1),
        page(lead, f"{lead}-3", "/product", 2),
        track(lead, f"{lead}-4", "Webinar Attended", 3),
        track(lead, f"{lead}-5", "Demo Requested", 4),
        answers(lead, f"{lead}-6", 5, budget="yes", authority="yes", need="yes", timeline="Q1"),
    ]


async def call(url: str, method: str = "GET", headers: dict[str, str] | None = None,
               body: Any = None) -> tuple[int, dict[str, str], Any]:
    headers = dict(AUTH if headers is None else headers)
    if body is not None:
        headers["Content-Type"] = "application/json"  # the API takes changes as JSON only
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, headers=headers,
                                   data=orjson.dumps(body) if body is not None else None) as response:
            return response.status, dict(response.headers), await response.json(content_type=None)


async def owner_of(api: RunningPipeline, lead: str) -> str:
    """The worker whose own (active) partitions hold the lead."""
    owners = []
    for worker in api.workers:
        _, _, body = await call(f"{worker.url}/_local/leads?limit=1000")
        if any(doc["lead_id"] == lead for doc in body["leads"]):
            owners.append(worker.url)
    assert len(owners) == 1, owners
    return owners[0]


async def test_a_lead_is_answered_by_its_owner_whichever_worker_is_asked(api: RunningPipeline):
    owners = {await owner_of(api, lead) for lead in LEADS}
    assert len(owners) == 2, "the leads should be spread over both workers"
    lead = LEADS[0]
    owner = await owner_of(api, lead)
    documents = []
    for worker in api.workers:
        status, headers, body = await call(f"{worker.url}/leads/{lead}")
        assert status == 200, body
        assert headers["X-Leadstream-Served-By"].rstrip("/") == owner
        documents.append(body)
    doc = documents[0]
    assert (doc["stage"], doc["temperature"]) == ("sql", "hot")
    assert doc["criteria"] == {"budget": "met", "authority": "met", "need": "met", "timeline": "met"}
    assert doc["score"]["fit"] == 100
    # Fit 100 and engagement some 60 after three hours' decay: the grade a rep reads, as the last change said.
    assert doc["grade"] == "A1" and doc["score"]["total"] >= 60
    changes = await api.changes_for(lead, count=3)
    assert [change["grade"] for change in changes][-1] == "A1"
    # Decayed to the worker's clock (fixed three hours after the journey here), not to the wall
    # clock: each contribution is its points halved once per half-life of its component since.
    points = {c["signal"]: c["points_now"] for c in doc["contributions"]}
    model, now = load_model(), worker_clock_now()
    for signal, minute in (("demo_request", 4), ("webinar_attended", 3)):
        elapsed = now - datetime.fromisoformat(at(minute)).timestamp()
        expected = model.rule(signal).points * 2 ** (-elapsed / model.half_life_of(signal))
        assert points[signal] == pytest.approx(expected, abs=1e-3), signal
    assert doc["top_contributions"][0]["signal"] == "demo_request"
    assert doc["score"]["intent"] == pytest.approx(points["demo_request"], abs=1e-3)
    # Both workers answered from the same (owner's) state.
    assert documents[0]["contributions"] == documents[1]["contributions"]


async def test_an_unknown_lead_is_a_json_404_on_every_worker(api: RunningPipeline):
    for worker in api.workers:
        status, _, body = await call(f"{worker.url}/leads/nobody-here")
        assert status == 404
        assert body == {"error": "unknown lead", "lead_id": "nobody-here"}


async def test_an_anonymous_visitor_the_worker_holds_is_answered_with_its_held_events_not_404(api: RunningPipeline):
    visitor = "api-visitor-1"
    await api.send_all([visit(visitor, f"{visitor}-{n}", path, n) for n, path in
                        enumerate(("/blog/a", "/pricing", "/blog/b"))])
    await api.settled_accounting()

    for worker in api.workers:  # the owner answers, whichever worker is asked
        status, _, body = await call(f"{worker.url}/leads/{visitor}")
        assert status == 200, body
        assert (body["lead_id"], body["anonymous"], body["status"]) == (visitor, True, "held")
        assert body["held_events"] == 3 and body["held_since"] == iso_time(datetime.fromisoformat(at(0)).timestamp())
        assert sum(body["held_by_signal"].values()) == 3 and body["linked_lead_id"] is None
        assert "held, unscored, until an identify" in body["why"]
    held = 0
    for worker in api.workers:
        _, _, stats = await call(f"{worker.url}/stats")
        held += stats["anonymous_visitors_held"]
    assert held == 1  # the board's "New (anonymous)" counts it; the identified leads of this module are not held


async def test_the_list_merges_the_hottest_leads_of_both_workers(api: RunningPipeline):
    status, _, body = await call(f"{api.workers[0].url}/leads?stage=sql&limit=100")
    assert status == 200, body
    assert body["workers"] == 2
    assert sorted(doc["lead_id"] for doc in body["leads"]) == sorted(LEADS)
    _, _, top3 = await call(f"{api.workers[1].url}/leads?limit=3")
    assert len(top3["leads"]) == 3
    totals = [doc["score"]["total"] for doc in top3["leads"]]
    assert totals == sorted(totals, reverse=True)
    status, _, bad = await call(f"{api.workers[0].url}/leads?stage=lukewarm")
    assert status == 400 and "stage must be one of" in bad["error"]


async def test_the_api_refuses_requests_without_the_bearer_token(api: RunningPipeline):
    worker = api.workers[0].url
    for path in (f"/leads/{LEADS[1]}", "/leads", "/_local/leads"):
        status, _, body = await call(worker + path, headers={})
        assert status == 401, path
        assert body["error"] == "missing or wrong bearer token"
        status, _, _ = await call(worker + path, headers={"Authorization": "Bearer wrong"})
        assert status == 401
    status, _, _ = await call(worker + "/healthz", headers={})
    assert status == 200  # health and metrics stay open for probes and Prometheus


async def test_sales_rejection_recycles_the_lead_until_it_shows_new_intent(api: RunningPipeline):
    lead = LEADS[2]
    worker = api.workers[1].url
    status, _, bad = await call(f"{worker}/leads/{lead}/feedback", "POST", body={"verdict": "rejected"})
    assert status == 400 and "reason" in bad["error"]
    status, _, bad = await call(f"{worker}/leads/{lead}/feedback", "POST", body={"verdict": "maybe"})
    assert status == 400 and "verdict must be one of" in bad["error"]

    status, _, accepted = await call(f"{worker}/leads/{lead}/feedback", "POST",
                                     body={"verdict": "rejected", "reason": "no budget this year", "by": "rep-7"})
    assert status == 202, accepted
    changes = await api.changes_for(lead, count=4)
    assert (changes[-1]["to_stage"], changes[-1]["to_temperature"]) == ("recycled", "warm")
    assert changes[-1]["cause"] == {"type": "feedback", "event_id": accepted["feedback_id"],
                                    "detail": "rejected"}
    _, _, doc = await call(f"{worker}/leads/{lead}")
    assert (doc["stage"], doc["temperature"]) == ("recycled", "warm")
    feedback = await api.recorder_for("leads.feedback").wait_for(
        api.topic("leads.feedback"), lambda records: any(r["lead_id"] == lead for r in records))
    record = next(r for r in feedback if r["lead_id"] == lead)
    assert (record["verdict"], record["reason"], record["by"]) == ("rejected", "no budget this year", "rep-7")
    assert_matches_contract("leads.feedback", record)

    # Old signals do not hand it back; new intent (another demo request) after the model's
    # cooldown (30 days from the rejection at noon on day 0) makes it hot again. Sales owns SQL:
    # it comes back marketing-qualified, for sales to look at again.
    await api.send(page(lead, f"{lead}-7", "/blog/post", 10))
    await api.settled_accounting()
    _, _, still = await call(f"{worker}/leads/{lead}")
    assert still["stage"] == "recycled"
    await api.send(track(lead, f"{lead}-8", "Demo Requested", 60 * 24 * 31))
    requalified = await api.changes_for(lead, count=5)
    assert (requalified[-1]["to_stage"], requalified[-1]["to_temperature"]) == ("mql", "hot")
    assert requalified[-1]["cause"] == {"type": "event", "event_id": f"{lead}-8"}


async def test_erasure_forgets_the_lead_everywhere_and_after_a_restart(api: RunningPipeline):
    lead = LEADS[3]
    owner = await owner_of(api, lead)
    other = next(w for w in api.workers if w.url != owner)
    status, _, erased = await call(f"{other.url}/leads/{lead}", "DELETE", headers=ADMIN)
    assert status == 200, erased
    assert erased["lead_id"] == lead
    assert erased["erased"]["lead_state"] is True
    assert erased["erased"]["events_counted"] == 4  # the identify and the answers carry no signal
    assert "email" in erased["erased"]["profile_fields"]
    for worker in api.workers:
        status, _, _ = await call(f"{worker.url}/leads/{lead}")
        assert status == 404
    notices = await api.recorder.wait_for(api.topic("leads.qualification"),
                                          lambda rs: any(r.get("kind") == "lead_erased" and r["lead_id"] == lead
                                                         for r in rs))
    notice = next(r for r in notices if r.get("kind") == "lead_erased" and r["lead_id"] == lead)
    assert_matches_contract("leads.qualification", notice)
    status, _, again = await call(f"{owner}/leads/{lead}", "DELETE", headers=ADMIN)
    assert status == 200 and again["already_erased"] is True

    before = await api.accounting()
    await api.send(page(lead, f"{lead}-late", "/pricing", 9))
    after = await api.settled_accounting()
    assert after["ignored_by_reason"].get("erased_lead", 0) - before["ignored_by_reason"].get("erased_lead", 0) == 1

    owner_process = next(w for w in api.workers if w.url == owner)
    owner_process.stop()
    owner_process.start()
    for worker in api.workers:  # the rebalance the restart caused is over everywhere
        await worker.wait_ready()
    await api.caught_up()  # and whatever the restarted worker read again is handled
    for worker in api.workers:
        status, _, _ = await call(f"{worker.url}/leads/{lead}")
        assert status == 404
    status, _, kept = await call(f"{owner}/leads/{LEADS[4]}")
    assert status == 200 and kept["stage"] == "sql"  # the others were recovered from the changelog
