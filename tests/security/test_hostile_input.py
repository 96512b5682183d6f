"""Hostile input against a worker and a collector on Apache Kafka, as an attacker (or a careless
operator) would meet them: no open start on a network address, scopes on every lead read and
write, no text/plain or form posts, throttled sign-in, no forged pixel claims, bounded batches
and answers, rate limits, and no server-sent event smuggled in through a lead id."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from streams.devtools.processes import CollectorProcess
from tests.e2e.cli import leadstream_command
from tests.integration.pipeline_harness import (
    RunningPipeline, TopicRecorder, answers, identify, page, start_collector, start_pipeline, stop_pipeline, track,
    worker_process,
)
from tests.event_stream import browser_events
from tests.integration.pixel_urls import PIXEL_KEYS_ENV, signed_pixel_path

pytestmark = [pytest.mark.kafka, pytest.mark.security, pytest.mark.asyncio(loop_scope="session")]
READ_TOKEN = "hostile-suite-read-token-0123456789"
ADMIN_TOKEN = "hostile-suite-admin-token-0123456789"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WRITE_KEY = "hostile-web-key-1"
LEAD, ERASABLE = "sec-lead", "sec-erasable"
# A lead id carrying carriage returns that spell out a second event, should they reach the stream raw.
EVIL = 'sec-evil\r\revent: lead-erased\rdata: {"lead_id": "sec-lead"}\r\r'
KNOWN_EVENTS = {"funnel", "hot", "hot-add", "hot-update", "hot-remove", "lead-moved", "lead-erased", "following"}


def hot_journey(lead: str) -> list[dict[str, Any]]:
    return [
        identify(lead, f"{lead}-1", "buyer@acme.io", 0),
        track(lead, f"{lead}-2", "Case Study Downloaded", 1),
        page(lead, f"{lead}-3", "/product", 2),
        track(lead, f"{lead}-4", "Webinar Attended", 3),
        track(lead, f"{lead}-5", "Demo Requested", 4),
        answers(lead, f"{lead}-6", 5, budget="yes", authority="yes", need="yes", timeline="Q1"),
    ]


class Stack:
    def __init__(self, pipeline: RunningPipeline, collector: CollectorProcess, raw: TopicRecorder) -> None:
        self.pipeline, self.collector, self.raw = pipeline, collector, raw

    @property
    def worker(self) -> str:
        return self.pipeline.workers[0].url

    async def call(self, method: str, url: str, headers: dict[str, str] | None = None,
                   data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        async with aiohttp.ClientSession() as session:
            async with session.request(method, url, headers=headers or {}, data=data, allow_redirects=False,
                                       timeout=aiohttp.ClientTimeout(total=30)) as response:
                return response.status, dict(response.headers), await response.read()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("hostile")
    pipeline = await start_pipeline(kafka_bootstrap, log_dir, env={
        "LEADSTREAM_API_TOKEN": READ_TOKEN, "LEADSTREAM_ADMIN_TOKEN": ADMIN_TOKEN})
    collector = await start_collector(pipeline, log_dir, env={
        "LEADSTREAM_COLLECTOR_WRITE_KEYS": f"web:{WRITE_KEY}", **PIXEL_KEYS_ENV,
        "LEADSTREAM_COLLECTOR_TRUST_FORWARDED": "true",  # each test speaks from its own client address
        "LEADSTREAM_COLLECTOR_CLIENT_RATE": "1", "LEADSTREAM_COLLECTOR_CLIENT_BURST": "20",
        "LEADSTREAM_COLLECTOR_WRITE_KEY_RATE": "1", "LEADSTREAM_COLLECTOR_WRITE_KEY_BURST": "30",
    })
    raw = TopicRecorder(kafka_bootstrap, (pipeline.topic("leads.events.raw"),))
    await raw.start()
    for lead in (LEAD, ERASABLE):
        await pipeline.send_all(hot_journey(lead))
    for lead in (LEAD, ERASABLE):
        await pipeline.changes_for(lead, count=3)
    yield Stack(pipeline, collector, raw)
    await raw.stop()
    collector.stop()
    await stop_pipeline(pipeline)


def run_worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*leadstream_command(), "worker", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


async def test_a_worker_on_0_0_0_0_without_a_token_refuses_to_start_naming_the_setting(
    stack: Stack, kafka_bootstrap: str, tmp_path: Path,
):
    refused = run_worker({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LEADSTREAM_WEB_HOST": "0.0.0.0",
                          "LEADSTREAM_DATA_DIR": str(tmp_path / "refused")})
    assert refused.returncode == 2
    assert refused.stderr.startswith("leadstream worker: LEADSTREAM_API_TOKEN: required when LEADSTREAM_WEB_HOST"), \
        refused.stderr
    short = run_worker({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LEADSTREAM_WEB_HOST": "0.0.0.0",
                        "LEADSTREAM_API_TOKEN": "only-twenty-chars-xx"})
    assert short.returncode == 2 and short.stderr.startswith("leadstream: LEADSTREAM_API_TOKEN: must be at least 32")
    assert "only-twenty-chars-xx" not in short.stderr
    # Faust's own option moves the server too: refused as plainly, before Faust starts (no traceback).
    rebound = run_worker({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LEADSTREAM_WEB_HOST": "127.0.0.1",
                          "LEADSTREAM_DATA_DIR": str(tmp_path / "rebound")}, "--web-bind", "0.0.0.0")
    assert rebound.returncode == 2 and "Traceback" not in rebound.stderr, rebound.stderr
    assert rebound.stderr.startswith("leadstream worker: LEADSTREAM_API_TOKEN: required when --web-bind (0.0.0.0)")

    # LEADSTREAM_ALLOW_OPEN=true is the one way round, and the worker says so in its log.
    opened = worker_process(kafka_bootstrap, tmp_path, f"secopen{uuid.uuid4().hex[:8]}.", 0, {
        "LEADSTREAM_WEB_HOST": "0.0.0.0", "LEADSTREAM_ALLOW_OPEN": "true"})
    opened.start()
    try:
        await opened.wait_ready()
        assert re.search(r"WARNING: LEADSTREAM_ALLOW_OPEN=true: .* OPEN to anyone", opened.log_tail(400))
    finally:
        opened.stop()


async def test_every_lead_read_and_write_is_refused_without_the_right_scope(stack: Stack):
    worker = stack.worker
    feedback = orjson.dumps({"verdict": "accepted"})
    json_type = {"Content-Type": "application/json"}
    reads = [("GET", f"/leads/{LEAD}"), ("GET", f"/leads/{LEAD}/history"), ("GET", "/leads"),
             ("GET", "/_local/leads"), ("GET", "/board"), ("GET", "/board/model"), ("GET", "/board/events"),
             ("GET", f"/board/leads/{LEAD}")]
    for method, path in [*reads, ("POST", f"/leads/{LEAD}/feedback"), ("DELETE", f"/leads/{ERASABLE}")]:
        for headers in ({}, {"Authorization": "Bearer " + "x" * 40}):
            status, _, body = await stack.call(method, worker + path, {**headers, **json_type}, feedback)
            assert status == 401, (method, path, headers)
            assert b"buyer@acme.io" not in body
    for method, path in reads:
        if path != "/board/events":  # a stream: opened with the token in the SSE test below
            assert (await stack.call(method, worker + path, READ))[0] == 200, path
    status, _, _ = await stack.call("POST", f"{worker}/leads/{LEAD}/feedback", {**READ, **json_type}, feedback)
    assert status == 202  # feedback is the read scope's

    # Erasure takes the admin token: the read token, or a board session, is not enough.
    status, _, body = await stack.call("DELETE", f"{worker}/leads/{ERASABLE}", READ)
    assert status == 403 and b"LEADSTREAM_ADMIN_TOKEN" in body
    assert (await stack.call("GET", f"{worker}/leads/{ERASABLE}", READ))[0] == 200  # still there
    status, _, body = await stack.call("DELETE", f"{worker}/leads/{ERASABLE}", ADMIN)
    assert status == 200, body
    assert (await stack.call("GET", f"{worker}/leads/{ERASABLE}", READ))[0] == 404

    # Faust's own table and router pages, which would list every key, are gone; every page sets the headers.
    for path in ("/table/leads/", "/router/", "/graph/", "/stats/"):
        assert (await stack.call("GET", worker + path, ADMIN))[0] == 404, path
    _, headers, _ = await stack.call("GET", f"{worker}/board", READ)
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


async def test_text_plain_and_form_posts_are_refused_and_change_nothing(stack: Stack):
    worker = stack.worker
    before = orjson.loads((await stack.call("GET", f"{worker}/leads/{LEAD}", READ))[2])
    body = orjson.dumps({"verdict": "rejected", "reason": "posted by a page elsewhere"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"):
        status, _, _ = await stack.call("POST", f"{worker}/leads/{LEAD}/feedback",
                                        {**READ, "Content-Type": content_type}, body)
        assert status == 415, content_type
    await stack.pipeline.settled_accounting()
    after = orjson.loads((await stack.call("GET", f"{worker}/leads/{LEAD}", READ))[2])
    assert after["stage"] == before["stage"] != "recycled"


async def test_sign_in_is_throttled_after_a_few_wrong_tokens(stack: Stack):
    worker = stack.worker
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    statuses = []
    for attempt in range(7):
        status, headers, _ = await stack.call("POST", f"{worker}/board/login", form,
                                              f"token=wrong-{attempt}&next=/board".encode())
        statuses.append(status)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    assert int(headers["Retry-After"]) >= 1
    # Meanwhile even the right token is not tried from this client: guessing gets nothing.
    status, _, _ = await stack.call("POST", f"{worker}/board/login", form, f"token={READ_TOKEN}".encode())
    assert status == 429
    # A page elsewhere cannot post the sign-in form in the operator's browser.
    status, _, _ = await stack.call("POST", f"{worker}/board/login", {**form, "Sec-Fetch-Site": "cross-site"},
                                    f"token={READ_TOKEN}".encode())
    assert status == 403


async def test_a_forged_pixel_track_is_refused_and_a_signed_one_accepted(stack: Stack):
    collector, client = stack.collector.url, {"X-Forwarded-For": "198.51.100.10"}
    forged, _, gif = await stack.call(
        "GET", collector + "/p.gif?t=track&e=Demo%20Requested&email=ceo@victim.com&uid=ceo@victim.com", client)
    assert forged == 403 and gif.startswith(b"GIF89a")
    unsigned_open, _, _ = await stack.call("GET", collector + "/p.gif?t=email_open&uid=ceo@victim.com", client)
    assert unsigned_open == 403
    signed, _, _ = await stack.call("GET", collector + signed_pixel_path(
        {"t": "track", "e": "Demo Requested", "uid": "sec-signed", "mid": "sec-signed-1"}), client)
    assert signed == 200
    await stack.raw.wait_for(stack.pipeline.topic("leads.events.raw"),
                             lambda rs: any(r.get("messageId") == "sec-signed-1" for r in rs))
    await stack.pipeline.settled_accounting()
    assert (await stack.call("GET", f"{stack.worker}/leads/sec-signed", READ))[0] == 200
    assert (await stack.call("GET", f"{stack.worker}/leads/ceo@victim.com", READ))[0] == 404
    everything = [value for records in stack.raw.records.values() for _, value in records]
    assert not any(b"victim.com" in value for value in everything)
    accounting = orjson.loads((await stack.call("GET", collector + "/accounting"))[2])
    assert accounting["rejected_by_reason"]["unsigned_claim"] == 2 and accounting["balanced"]


async def test_an_over_long_batch_is_refused_with_a_bounded_answer(stack: Stack):
    collector = stack.collector.url
    headers = {"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.20"}
    events = [{"type": "page", "anonymousId": f"v-{n}", "properties": {"path": "/"}} for n in range(501)]
    status, _, raw = await stack.call("POST", collector + "/v1/batch", headers,
                                      orjson.dumps({"batch": events, "writeKey": WRITE_KEY}))
    answer = orjson.loads(raw)
    assert status == 413 and answer["rejected_count"] == 501 and "at most 500 events" in answer["error"]
    assert len(raw) < 500
    status, _, raw = await stack.call("POST", collector + "/v1/batch", headers,
                                      orjson.dumps({"batch": [1] * 500, "writeKey": WRITE_KEY}))
    answer = orjson.loads(raw)
    assert status == 400 and answer["rejected_count"] == 500 and len(answer["rejected"]) == 20
    assert len(raw) < 4000  # about 28 MB before, for a body of 1 KB


async def test_rate_limits_answer_429_with_retry_after(stack: Stack):
    collector = stack.collector.url
    flood = await asyncio.gather(*(stack.call("GET", collector + f"/p.gif?path=/flood-{n}",
                                              {"X-Forwarded-For": "203.0.113.77"}) for n in range(40)))
    statuses = [status for status, _, _ in flood]
    assert statuses.count(200) >= 20 and statuses.count(429) >= 10, statuses  # a burst of 20, then 1 a second
    assert all(int(headers["Retry-After"]) >= 1 for status, headers, _ in flood if status == 429)
    assert (await stack.call("GET", collector + "/p.gif?path=/calm", {"X-Forwarded-For": "203.0.113.78"}))[0] == 200
    assert (await stack.call("GET", collector + "/healthz"))[0] == 200  # probes never limited

    # One write key, many addresses: the key's own bucket stops it.
    posts = await asyncio.gather(*(stack.call(
        "POST", collector + "/v1/page", {"Content-Type": "application/json", "X-Forwarded-For": f"192.0.2.{n}"},
        orjson.dumps({"anonymousId": f"k-{n}", "writeKey": WRITE_KEY})) for n in range(45)))
    body = next(orjson.loads(raw) for status, _, raw in posts if status == 429)
    assert "write_key" in body["error"]


async def test_a_carriage_return_in_a_lead_id_cannot_add_server_sent_events(stack: Stack):
    await stack.pipeline.send_all(hot_journey(EVIL))
    changes = await stack.pipeline.changes_for(EVIL, count=3)
    assert changes[-1]["to_temperature"] == "hot"

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.worker}/board/events", headers=READ,
                               timeout=aiohttp.ClientTimeout(total=30)) as response:
            assert response.status == 200
            stream = b""
            deadline = time.monotonic() + 20
            while stream.count(b"\n\n") < 2 and time.monotonic() < deadline:  # funnel and hot, on connect
                stream += await asyncio.wait_for(response.content.read(65536), 20)
    events = browser_events(stream)
    names = [name for name, _ in events]
    assert names[:2] in (["funnel", "hot"], ["hot", "funnel"]), names
    assert set(names) <= KNOWN_EVENTS and "lead-erased" not in names, names
    hot = next(data for name, data in events if name == "hot")
    assert "sec-evil" in hot  # the hostile lead is listed, as text inside the one event
