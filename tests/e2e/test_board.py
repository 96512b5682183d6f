"""The lead board in headless Chromium, against the real app: two workers on Apache Kafka, a token set."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timezone
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer

from tests.e2e.browser import Browser, chromium_executable, output_dir
from tests.integration.pipeline_harness import RunningPipeline, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
TOKEN = "board-s3cret-read-token-32-chars"
ADMIN_TOKEN = "board-s3cret-admin-token-32-chars"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOT_LEAD = "board-hot-lead"  # scripted while the board is open
SETTLED = ("board-settled-0", "board-settled-1", "board-settled-2")  # hot before any page opens
WARM_LEAD, ANONYMOUS = "board-warm", "anon-board-visitor"


def ago(hours: float) -> str:
    return datetime.fromtimestamp(time.time() - hours * 3600, timezone.utc).isoformat()


def hot_journey(lead: str, company: str) -> list[dict[str, Any]]:
    """Three days of interest, then pricing, BANT answers and a demo request a minute ago: hot."""
    return [
        {"type": "identify", "messageId": f"{lead}-1", "userId": lead, "timestamp": ago(72),
         "traits": {"email": f"ada@{company}", "title": "VP Marketing", "industry": "software", "employees": 400,
                    "country": "US"}},
        {"type": "track", "messageId": f"{lead}-2", "userId": lead, "event": "Case Study Downloaded",
         "timestamp": ago(71)},
        {"type": "page", "messageId": f"{lead}-3", "userId": lead, "properties": {"path": "/product"},
         "timestamp": ago(48)},
        {"type": "track", "messageId": f"{lead}-4", "userId": lead, "event": "Webinar Attended", "timestamp": ago(30)},
        {"type": "page", "messageId": f"{lead}-5", "userId": lead, "properties": {"path": "/pricing"},
         "timestamp": ago(6)},
        {"type": "track", "messageId": f"{lead}-6", "userId": lead, "event": "Qualification Form Submitted",
         "properties": {"criteria": {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "Q1"}},
         "timestamp": ago(3)},
        {"type": "track", "messageId": f"{lead}-7", "userId": lead, "event": "Demo Requested", "timestamp": ago(0.02)},
    ]


def warm_journey(lead: str) -> list[dict[str, Any]]:
    return [
        {"type": "identify", "messageId": f"{lead}-1", "userId": lead, "timestamp": ago(10),
         "traits": {"email": f"{lead}@initech.com", "title": "Engineer"}},
        {"type": "track", "messageId": f"{lead}-2", "userId": lead, "event": "Webinar Attended", "timestamp": ago(9)},
        {"type": "track", "messageId": f"{lead}-3", "userId": lead, "event": "Case Study Downloaded",
         "timestamp": ago(8)},
        {"type": "track", "messageId": f"{lead}-4", "userId": lead, "event": "Whitepaper Downloaded",
         "timestamp": ago(7)},
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser():
    executable = chromium_executable()  # before any worker starts: skip (or fail in CI) fast
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        yield Browser(playwright, executable)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def board(browser: Browser, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("board"), workers=2,
                                   env={"LEADSTREAM_API_TOKEN": TOKEN, "LEADSTREAM_ADMIN_TOKEN": ADMIN_TOKEN})
    for index, lead in enumerate(SETTLED):
        await running.send_all(hot_journey(lead, f"settled{index}.io"))
    await running.send_all(warm_journey(WARM_LEAD))
    await running.send({"type": "page", "messageId": "anon-1", "anonymousId": ANONYMOUS,
                        "properties": {"path": "/blog/x"}, "timestamp": ago(1)})
    for lead in SETTLED:
        # iql, mql, sql on the confirmed answers with a good fit, then hot on the demo request
        await running.changes_for(lead, count=4)
    await running.settled_accounting()
    yield running
    await stop_pipeline(running)


async def api(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=AUTH if headers is None else headers) as response:
            body = await response.read()
            try:
                return response.status, await response.json(content_type=None)
            except ValueError:
                return response.status, body.decode(errors="replace")


async def signed_in(context: Any, worker: str) -> Any:
    """A page that signed in once with ?token=, as a bookmark or a link from chat would."""
    page = await context.new_page()
    response = await page.goto(f"{worker}/board?token={TOKEN}")
    assert response.status == 200
    assert page.url == f"{worker}/board", "the token must leave the address bar"
    return page


def stays_on(page: Any, worker: str) -> list[str]:
    """Every request the page makes that is not to the worker (the board must work offline)."""
    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith((worker, "data:")) else
            elsewhere.append(request.url))
    return elsewhere


async def test_a_lead_turning_hot_appears_in_hot_now_without_a_reload(board: RunningPipeline, browser: Browser):
    worker = board.workers[1].url
    async with browser.context() as context:
        page = await signed_in(context, worker)
        elsewhere = stays_on(page, worker)
        await page.wait_for_selector("body[data-live=connected]", timeout=20_000)
        await page.evaluate("window.stillTheSamePage = true")
        settled = await page.eval_on_selector_all("#hot-rows tr", "rows => rows.map(r => r.dataset.lead)")
        assert set(SETTLED) <= set(settled)

        await board.send_all(hot_journey(HOT_LEAD, "globex.io"))

        await page.wait_for_function(
            "lead => { const first = document.querySelector('#hot-rows tr'); return first && first.dataset.lead === lead; }",
            arg=HOT_LEAD, timeout=30_000,
        )
        assert await page.evaluate("window.stillTheSamePage") is True
        row = page.locator(f'#hot-rows tr[data-lead="{HOT_LEAD}"]')
        cells = await row.locator("th, td").all_inner_texts()  # the lead's own cell is the row's heading
        column = {heading: n for n, heading in enumerate(await page.locator("#hot thead th").all_inner_texts())}
        assert (cells[column["Company"]], cells[column["Stage"]]) == ("globex.io", "SQL")
        assert "demo_request" in cells[column["Top reasons"]] and re.fullmatch(r"[ABC][123]", cells[column["Grade"]])
        assert await row.locator("ul.criteria li.c-met").count() == 4
        assert HOT_LEAD in await page.locator("#announcer").inner_text()
        await page.wait_for_timeout(600)  # let the live funnel catch up before the picture
        await page.screenshot(path=output_dir("board") / "hot-now.png", full_page=True)
        assert elsewhere == []


async def test_the_lead_page_shows_the_timeline_and_a_chart_that_plots_the_apis_score(
    board: RunningPipeline, browser: Browser,
):
    lead, worker = SETTLED[0], board.workers[0].url
    async with browser.context() as context:
        page = await signed_in(context, worker)
        elsewhere = stays_on(page, worker)
        # Keyboard only: the labelled lead search opens the lead.
        await page.get_by_label("Lead id").fill(lead)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{worker}/board/leads/{lead}")
        status, document = await api(f"{worker}/leads/{lead}")
        assert status == 200

        timeline = await page.locator("#timeline tbody tr").all_inner_texts()
        # new→iql, iql→mql, mql→sql on the confirmed answers, then warm→hot on the demo request
        changes = [row for row in timeline if "Stage change" in row]
        assert len(changes) == 4 and "MQL → SQL" in changes[1]
        assert len([row for row in timeline if "Event" in row]) == 7
        assert "demo_request" in timeline[1] and "warm → hot" in timeline[0]

        chart = page.locator("svg.score-chart")
        y0, y1 = float(await chart.get_attribute("data-y0")), float(await chart.get_attribute("data-y1"))
        left, top, width, height = map(float, (await chart.get_attribute("data-plot")).split())
        total = page.locator('svg.score-chart polyline[data-series="total"]')
        last_x, last_y = map(float, (await total.get_attribute("points")).split()[-1].split(","))
        plotted = y1 - (last_y - top) / height * (y1 - y0)
        api_total = document["score"]["total"]
        # The page was scored a moment before the API call: decay over those seconds is tiny.
        assert float(await total.get_attribute("data-now")) == pytest.approx(api_total, rel=1e-4)
        assert plotted == pytest.approx(api_total, abs=(y1 - y0) * 0.002)  # to the pixel
        assert last_x == pytest.approx(left + width)
        now_row = page.locator("#chart-now td[data-part=total]")
        assert float(await now_row.text_content()) == pytest.approx(api_total, abs=0.006)
        assert float(await page.locator("#score-total").get_attribute("data-score")) == pytest.approx(api_total,
                                                                                                      rel=1e-4)
        thresholds = await page.eval_on_selector_all("line.threshold", "ls => ls.map(l => Number(l.dataset.value))")
        assert {25.0, 15.0, 30.0, 20.0} <= set(thresholds)
        assert await page.locator("svg.score-chart path.event-mark").count() == 5  # the scored events

        criteria = await page.locator("section[aria-labelledby=criteria-heading] li").all_inner_texts()
        assert [c.split()[1] for c in criteria] == ["budget", "authority", "need", "timeline"]
        assert "settled0.io" in await page.locator("section[aria-labelledby=account-heading]").inner_text()
        contributions = await page.locator("table.contributions tbody th").all_inner_texts()
        assert contributions == [c["signal"] for c in document["contributions"]]
        await page.screenshot(path=output_dir("board") / "lead.png", full_page=True)
        assert elsewhere == []


async def test_an_open_lead_page_says_when_its_lead_moves(board: RunningPipeline, browser: Browser):
    lead, worker = "board-moving", board.workers[1].url
    await board.send({"type": "identify", "messageId": f"{lead}-1", "userId": lead, "timestamp": ago(2),
                      "traits": {"email": f"bo@{lead}.io", "title": "Head of Growth", "industry": "saas",
                                 "employees": 120, "country": "GB"}})
    await board.changes_for(lead, count=1)  # new → iql
    async with browser.context() as context:
        page = await signed_in(context, worker)
        await page.goto(f"{worker}/board/leads/{lead}")
        await page.wait_for_selector("body[data-live=connected]", timeout=20_000)
        assert await page.locator("#lead-moved").is_hidden()

        await board.send({"type": "track", "messageId": f"{lead}-2", "userId": lead, "event": "Webinar Attended",
                          "timestamp": ago(1)})
        await board.send({"type": "track", "messageId": f"{lead}-3", "userId": lead,
                          "event": "Case Study Downloaded", "timestamp": ago(0.5)})

        notice = page.locator("#lead-moved")
        await notice.wait_for(state="visible", timeout=30_000)
        assert "IQL → MQL" in await notice.inner_text()
        await notice.get_by_role("link", name="Reload").click()
        await page.wait_for_selector("text=MQL · grade", timeout=10_000)
        assert len(await page.locator("#timeline tbody tr").all()) == 5  # 3 events, 2 moves


def moving_journey(lead: str) -> list[dict[str, Any]]:
    """Two stage transitions: new → IQL on identify, IQL → MQL with the webinar and the case study."""
    return [
        {"type": "identify", "messageId": f"{lead}-1", "userId": lead, "timestamp": ago(2),
         "traits": {"email": f"bo@{lead}.io", "title": "Head of Growth", "industry": "saas", "employees": 120,
                    "country": "GB"}},
        {"type": "track", "messageId": f"{lead}-2", "userId": lead, "event": "Webinar Attended", "timestamp": ago(1)},
        {"type": "track", "messageId": f"{lead}-3", "userId": lead, "event": "Case Study Downloaded",
         "timestamp": ago(0.5)},
    ]


def stage_transitions_since(board: RunningPipeline, since: float) -> int:
    """Distinct changes on the qualification topic that moved a lead's stage, emitted at or after ``since``."""
    moved: set[str] = set()
    for _, value in board.recorder.records[board.topic("leads.qualification")]:
        record = orjson.loads(value)
        if ("from_stage" in record and record["from_stage"] != record["to_stage"]
                and datetime.fromisoformat(record["emitted_at"]).timestamp() >= since):
            moved.add(record["change_id"])
    return len(moved)


async def merged_api_funnel(board: RunningPipeline) -> tuple[dict[str, int], dict[str, int]]:
    """The API's funnel: every worker's /stats summed (and the same counts read from GET /leads)."""
    per_stage: dict[str, int] = {}
    per_temperature: dict[str, int] = {}
    held_visitors = 0
    for worker in board.workers:
        _, stats = await api(f"{worker.url}/stats")
        for stage, count in stats["leads_per_stage"].items():
            per_stage[stage] = per_stage.get(stage, 0) + count
        for temperature, count in stats["leads_per_temperature"].items():
            per_temperature[temperature] = per_temperature.get(temperature, 0) + count
        held_visitors += stats["anonymous_visitors_held"]
    _, listed = await api(f"{board.workers[0].url}/leads?limit=1000")
    from_list: dict[str, int] = {}
    for lead in listed["leads"]:
        from_list[lead["stage"]] = from_list.get(lead["stage"], 0) + 1
    assert from_list == per_stage
    if held_visitors:  # "New (anonymous)" counts the visitors held too: not leads yet, so not listed
        per_stage["new"] = per_stage.get("new", 0) + held_visitors
    return per_stage, per_temperature


async def test_the_funnel_counts_equal_the_apis(board: RunningPipeline, browser: Browser):
    await board.settled_accounting()
    per_stage, per_temperature = await merged_api_funnel(board)
    # The anonymous visitor's page view is held until it identifies (identity stitching), so it is
    # not a lead yet: the funnel counts it in "New (anonymous)", and the accounting holds one event.
    assert per_stage.get("new") == 1 and per_stage.get("sql", 0) >= 3
    assert (await board.accounting())["held"] >= 1
    worker = board.workers[0].url
    async with browser.context() as context:
        page = await signed_in(context, worker)
        await page.wait_for_selector("body[data-live=connected]", timeout=20_000)

        async def shown() -> tuple[dict[str, int], dict[str, int]]:
            stages = await page.eval_on_selector_all(
                "#funnel-stages tbody tr", "rows => rows.map(r => [r.dataset.stage, Number(r.querySelector('td').textContent)])")
            temps = await page.eval_on_selector_all(
                "#funnel-temperatures tbody tr",
                "rows => rows.map(r => [r.dataset.temperature, Number(r.querySelector('td').textContent)])")
            return ({stage: count for stage, count in stages if count},
                    {temperature: count for temperature, count in temps if count})

        assert await shown() == (per_stage, per_temperature)
        assert "2 workers" in await page.locator("#funnel-stages caption").inner_text()
        # And it stays equal as the live feed pushes the funnel again (the push replaces its content).
        await page.evaluate("window.funnelShown = document.getElementById('funnel').firstElementChild")
        await page.wait_for_function(
            "() => document.getElementById('funnel').firstElementChild !== window.funnelShown", timeout=30_000)
        assert await shown() == await merged_api_funnel(board)
        # The rate is the stage transitions the board's feed saw in the last sixty seconds: two fresh
        # ones, and whatever else the topic holds from that minute (wall clock: the board's own).
        lead = "board-rate"
        await board.send_all(moving_journey(lead))
        fresh = await board.changes_for(lead, count=2)
        assert [(c["from_stage"], c["to_stage"]) for c in fresh] == [("new", "iql"), ("iql", "mql")]
        deadline = time.monotonic() + 30
        while True:  # the funnel is pushed every few seconds: until the push after the fresh ones
            shown = int(await page.locator("#transitions-last-minute").inner_text())
            expected = stage_transitions_since(board, time.time() - 60)
            if shown == expected >= 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert shown == expected >= 2, (shown, expected)
        await page.screenshot(path=output_dir("board") / "funnel.png", full_page=True)


async def test_the_model_page_shows_the_active_model_as_tables(board: RunningPipeline, browser: Browser):
    worker = board.workers[0].url
    _, health = await api(f"{worker}/healthz")
    async with browser.context() as context:
        page = await signed_in(context, worker)
        await page.get_by_role("link", name="Scoring model").click()
        await page.wait_for_url(f"{worker}/board/model")
        assert await page.locator("#model-version").inner_text() == health["model_version"]
        signals = await page.eval_on_selector_all(
            "#signals tbody tr", "rows => rows.map(r => [...r.children].map(c => c.textContent))")
        assert ["demo_request", "intent", "30", "40", "7"] in signals
        assert ["webinar_attended", "interest", "20", "40", "30"] in signals
        thresholds = await page.locator("#thresholds tbody").inner_text()
        assert "MQL" in thresholds and "25" in thresholds and "15" in thresholds
        assert "yes" in await page.locator("#frameworks tbody tr:has-text('bant')").inner_text()
        await page.screenshot(path=output_dir("board") / "model.png", full_page=True)


async def test_with_the_token_set_the_board_refuses_without_it_and_signs_in_with_it(
    board: RunningPipeline, browser: Browser,
):
    worker = board.workers[0].url
    for path in ("/board", "/board/model", f"/board/leads/{SETTLED[0]}", "/board/events", "/board/model.toml"):
        status, body = await api(worker + path, headers={})
        assert status == 401, path
        assert SETTLED[0] + "@" not in str(body) and "settled0.io" not in str(body)
        status, _ = await api(worker + path, headers={"Authorization": "Bearer wrong"})
        assert status == 401, path
    status, _ = await api(f"{worker}/board/model")
    assert status == 200  # the API's bearer token works for the board too

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{worker}/board/events", headers=AUTH) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            first = await asyncio.wait_for(response.content.readline(), 15)
            assert first in (b"event: funnel\n", b"event: hot\n")

    async with browser.context() as context:
        page = await context.new_page()
        response = await page.goto(f"{worker}/board/model")
        assert response.status == 401
        await page.screenshot(path=output_dir("board") / "sign-in.png", full_page=True)
        await page.get_by_label("API token").fill("not-the-token")
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_selector("text=That token is not right")

        await page.get_by_label("API token").fill(TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{worker}/board/model")
        assert await page.locator("#model-version").count() == 1
        cookie = next(c for c in await context.cookies() if c["name"] == "leadstream_board")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert TOKEN not in cookie["value"]
        response = await page.goto(f"{worker}/board?token=wrong")  # a wrong token in a link changes nothing
        assert response.status == 200

    async with browser.context() as context:
        page = await context.new_page()
        response = await page.goto(f"{worker}/board?token=wrong")
        assert response.status == 401
        assert await page.locator("text=That token is not right").count() == 1


async def test_an_erased_lead_leaves_hot_now_and_its_history_is_forgotten(board: RunningPipeline, browser: Browser):
    lead, worker = SETTLED[2], board.workers[0].url
    status, history = await api(f"{worker}/leads/{lead}/history")
    assert status == 200 and len(history["events"]) == 7
    async with browser.context() as context:
        page = await signed_in(context, worker)
        await page.wait_for_selector(f'body[data-live=connected] #hot-rows tr[data-lead="{lead}"]', timeout=20_000)
        async with aiohttp.ClientSession() as session:
            async with session.delete(f"{worker}/leads/{lead}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
                assert response.status == 200
        await page.wait_for_selector(f'#hot-rows tr[data-lead="{lead}"]', state="detached", timeout=20_000)
    status, _ = await api(f"{worker}/leads/{lead}/history")
    assert status == 404

    # The changelog holding its record (state and history) ends with a tombstone: a restored worker forgets it too.
    changelog = f"leadstream-{board.prefix[:-1]}-leads-changelog"
    consumer = AIOKafkaConsumer(changelog, bootstrap_servers=board.bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        records: list[Any] = []
        while batch := await consumer.getmany(timeout_ms=2_000):
            records += [record for partition in batch.values() for record in partition]
    finally:
        await consumer.stop()
    for_lead = [record for record in records if record.key == lead.encode()]
    assert len(for_lead) >= 1 and for_lead[-1].value is None
