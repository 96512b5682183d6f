"""`leadstream collector` in front of a worker on Apache Kafka: what comes in over HTTP is scored, or refused with a reason."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from streams.contracts.encoding import iso_time
from streams.collector.pixel import GIF
from streams.devtools.processes import CollectorProcess
from tests.contracts import assert_matches_contract
from tests.monitoring_refs import referenced_metrics
from tests.integration.pixel_urls import PIXEL_KEYS_ENV, signed_pixel_path
from tests.integration.pipeline_harness import (
    RunningPipeline, TopicRecorder, at, settled_behind, start_collector, start_pipeline, stop_pipeline,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
SERVER_KEY, WEB_KEY = "server-secret-1", "web-secret-22"
SERVER_AUTH = {"Authorization": "Basic " + base64.b64encode(f"{SERVER_KEY}:".encode()).decode()}
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


class Stack:
    """A worker, a collector in front of it, and a recorder of every topic (the raw one included)."""

    def __init__(self, pipeline: RunningPipeline, collector: CollectorProcess, raw: TopicRecorder) -> None:
        self.pipeline, self.collector, self.raw = pipeline, collector, raw

    async def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                      data: bytes | dict | None = None) -> tuple[int, dict[str, str], bytes]:
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.collector.url + path, allow_redirects=False,
                                       headers=headers or {}, data=orjson.dumps(body) if body is not None else data,
                                       ) as response:
                return response.status, dict(response.headers), await response.read()

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, _, raw = await self.request("POST", path, body, {**SERVER_AUTH, **(headers or {})})
        return status, orjson.loads(raw)

    async def collector_accounting(self) -> dict[str, Any]:
        return (await self.collector.get_json("/accounting"))[1]

    async def raw_records(self, predicate: Callable[[dict], bool], count: int = 1) -> list[dict]:
        topic = self.pipeline.topic("leads.events.raw")
        records = await self.raw.wait_for(topic, lambda rs: sum(map(predicate, rs)) >= count)
        return [record for record in records if predicate(record)]

    async def lead_when(self, lead: str, predicate: Callable[[dict], bool], timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status, document = await self.pipeline.lead(lead)
            if status == 200 and predicate(document):
                return document
            if time.monotonic() > deadline:
                raise AssertionError(f"lead {lead} never matched: {status} {document}")
            await asyncio.sleep(0.2)

    async def settled(self) -> dict[str, Any]:
        """The worker's accounting once it has read everything the collector accepted."""
        return await settled_behind(self.collector, self.pipeline)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("collector")
    pipeline = await start_pipeline(kafka_bootstrap, log_dir)
    collector = await start_collector(pipeline, log_dir, env={
        "LEADSTREAM_COLLECTOR_WRITE_KEYS": f"server:{SERVER_KEY},web:{WEB_KEY}",
        "LEADSTREAM_COLLECTOR_TRUST_FORWARDED": "true",
        "LEADSTREAM_COLLECTOR_ALLOWED_ORIGINS": "https://www.example.com",
        **PIXEL_KEYS_ENV,  # with write keys set, a pixel naming a lead must be signed
    })
    raw = TopicRecorder(kafka_bootstrap, (pipeline.topic("leads.events.raw"),))
    await raw.start()
    yield Stack(pipeline, collector, raw)
    await raw.stop()
    collector.stop()
    await stop_pipeline(pipeline)


def counts(document: dict) -> dict[str, int]:
    return {c["signal"]: c["count"] for c in document["contributions"]}


def cookie_from(headers: dict[str, str]) -> str | None:
    set_cookie = headers.get("Set-Cookie", "")
    return set_cookie.split(";")[0].split("=", 1)[1] if set_cookie.startswith("ls_vid=") else None


async def test_a_pixel_hit_gets_its_gif_in_one_round_trip_and_its_page_view_is_scored(stack: Stack):
    # That the GIF does not wait for Kafka is shown with Kafka down (tests/fault/test_broker_loss.py).
    status, headers, body = await stack.request(
        "GET", signed_pixel_path({"uid": "pixel-lead", "path": "/pricing", "title": "Pricing"}),
        headers={"User-Agent": CHROME})

    assert (status, headers["Content-Type"], body) == (200, "image/gif", GIF)
    assert "no-store" in headers["Cache-Control"] and headers["Pragma"] == "no-cache"
    visitor = cookie_from(headers)
    assert visitor and "HttpOnly" in headers["Set-Cookie"] and "SameSite=Lax" in headers["Set-Cookie"]
    document = await stack.lead_when("pixel-lead", lambda d: "pricing_view" in counts(d))
    assert counts(document) == {"pricing_view": 1}
    [record] = await stack.raw_records(lambda r: r.get("userId") == "pixel-lead")
    assert record["anonymousId"] == visitor and record["properties"]["path"] == "/pricing"
    assert_matches_contract("leads.events.raw", record)


async def test_anonymous_pixel_views_followed_by_identify_twice_are_credited_to_the_lead_once(stack: Stack):
    _, headers, _ = await stack.request("GET", "/p.gif?path=/product", headers={"User-Agent": CHROME})
    visitor = cookie_from(headers)
    assert visitor
    for path in ("/pricing", "/pricing/enterprise"):
        _, again, _ = await stack.request("GET", f"/p.gif?path={path}",
                                          headers={"User-Agent": CHROME, "Cookie": f"ls_vid={visitor}"})
        assert cookie_from(again) is None  # the visitor keeps its id
    await stack.raw_records(lambda r: r.get("anonymousId") == visitor, count=3)
    await stack.settled()

    for message_id in ("idt-1", "idt-2"):
        status, answer = await stack.post("/v1/identify", {
            "messageId": message_id, "userId": "pixel-visitor", "anonymousId": visitor,
            "traits": {"email": "ivy@acme.io", "title": "VP Marketing"}})
        assert (status, answer) == (200, {"success": True, "accepted": 1})

    document = await stack.lead_when("pixel-visitor", lambda d: counts(d).get("pricing_view") == 2)
    await stack.settled()
    assert counts(await stack.lead_when("pixel-visitor", lambda d: True)) == {"product_view": 1, "pricing_view": 2}
    assert document["profile"]["email"] == "ivy@acme.io"


async def test_a_segment_batch_with_one_bad_event_answers_its_reason_and_the_good_ones_are_scored(stack: Stack):
    status, answer = await stack.post("/v1/batch", {
        "batch": [
            {"type": "identify", "messageId": "b-1", "userId": "batch-lead", "traits": {"email": "bo@globex.com"},
             "timestamp": at(0)},
            {"type": "track", "messageId": "b-2", "userId": "batch-lead", "timestamp": at(1)},  # no event name
            {"type": "track", "messageId": "b-3", "userId": "batch-lead", "event": "Demo Requested", "timestamp": at(2)},
            {"type": "page", "messageId": "b-4", "userId": "batch-lead", "properties": {"path": "/pricing"},
             "timestamp": at(3)},
        ],
        "context": {"library": {"name": "analytics-python", "version": "2.3.2"}},
        "sentAt": at(3),
    })

    assert status == 400
    assert answer["success"] is False and answer["accepted"] == 3
    assert answer["rejected"] == [{"index": 1, "messageId": "b-2", "reason": "invalid_field",
                                   "detail": "track message without an event name"}]
    document = await stack.lead_when("batch-lead", lambda d: len(d["contributions"]) == 2)
    assert counts(document) == {"demo_request": 1, "pricing_view": 1}
    [identify] = await stack.raw_records(lambda r: r.get("messageId") == "b-1")
    assert identify["context"]["library"]["name"] == "analytics-python"  # the batch's context applies to each


async def test_schema_and_json_errors_are_answered_400_with_a_reason(stack: Stack):
    cases = [
        ("/v1/track", b'{"event": "Demo Requested", "userId": "x"', "malformed_json"),
        ("/v1/page", orjson.dumps({"messageId": "no-id", "properties": {"path": "/"}}), "missing_identity"),
        ("/v1/track", orjson.dumps({"userId": "x", "event": "Big", "properties": {"blob": "x" * 40_000}}),
         "oversized"),
        ("/v1/batch", orjson.dumps({"batch": [{"type": "purchase", "userId": "x"}, "not an object"]}), "unknown_type"),
        ("/v1/events", orjson.dumps({"type": "page", "visitor": "v", "pth": "/typo"}), "invalid_field"),
    ]
    for path, body, reason in cases:
        status, _, raw = await stack.request("POST", path, data=body, headers=SERVER_AUTH)
        answer = orjson.loads(raw)
        assert status == 400, (path, answer)
        assert answer["rejected"][0]["reason"] == reason, (path, answer)
    status, _, _ = await stack.request("POST", "/v1/batch", data=b"[" + b" " * (600 * 1024) + b"]", headers=SERVER_AUTH)
    assert status == 413


async def test_a_flood_of_bot_hits_changes_no_score(stack: Stack):
    status, _ = await stack.post("/v1/track", {"messageId": "bot-base", "userId": "bot-target",
                                               "event": "Webinar Attended", "timestamp": at(0)})
    assert status == 200
    before = await stack.lead_when("bot-target", lambda d: "webinar_attended" in counts(d))
    worker_before = await stack.settled()

    flood = [stack.request("GET", signed_pixel_path({"uid": "bot-target", "path": "/pricing", "mid": f"bot-{n}"}), headers={"User-Agent": GOOGLEBOT})
             for n in range(150)]
    answers = await asyncio.gather(*flood)
    assert all(status == 200 and cookie_from(headers) is None for status, headers, _ in answers)
    await stack.raw_records(lambda r: str(r.get("messageId", "")).startswith("bot-") and r["messageId"] != "bot-base",
                            count=150)
    worker_after = await stack.settled()

    after = await stack.lead_when("bot-target", lambda d: True)
    assert counts(after) == counts(before) == {"webinar_attended": 1}
    assert after["stage"] == before["stage"] and after["temperature"] == before["temperature"]
    assert worker_after["ignored_by_reason"]["bot"] - worker_before["ignored_by_reason"].get("bot", 0) == 150
    assert (await stack.collector_accounting())["bot_events"] >= 150


async def test_a_wrong_or_missing_write_key_gets_401_and_the_pixel_needs_none(stack: Stack):
    event = {"messageId": "wk-1", "userId": "wk-lead", "event": "Demo Requested"}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"not-the-key:").decode()}
    assert (await stack.request("POST", "/v1/track", event, wrong))[0] == 401
    assert (await stack.request("POST", "/v1/track", event))[0] == 401
    assert (await stack.request("POST", "/v1/batch", {"batch": [event], "writeKey": "nope-nope"}))[0] == 401
    # The browser's key travels in the body (sendBeacon cannot set headers), as text/plain.
    status, _, _ = await stack.request("POST", "/v1/track", {**event, "writeKey": WEB_KEY},
                                       headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert status == 200
    [record] = await stack.raw_records(lambda r: r.get("messageId") == "wk-1")
    assert "writeKey" not in record
    # The pixel needs no write key for a page view; naming a lead takes a signed URL (tests/security).
    assert (await stack.request("GET", "/p.gif?path=/wk"))[0] == 200
    assert (await stack.request("GET", signed_pixel_path({"uid": "wk-lead"})))[0] == 200


async def test_no_whole_client_ip_reaches_any_topic(stack: Stack):
    await stack.post("/v1/page", {"messageId": "ip-1", "userId": "ip-lead", "properties": {"path": "/pricing"},
                                  "context": {"ip": "203.0.113.45", "userAgent": CHROME}})
    await stack.request("GET", signed_pixel_path({"uid": "ip-lead", "path": "/product", "mid": "ip-2"}),
                        headers={"User-Agent": CHROME, "X-Forwarded-For": "10.9.8.7, 198.51.100.23"})
    await stack.post("/v1/track", {"messageId": "ip-3", "userId": "ip-lead", "event": "Demo Requested",
                                   "properties": {"note": "called from 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"}},
                     headers={"X-Forwarded-For": "2001:db8:1:2:3:4:5:6"})
    records = await stack.raw_records(lambda r: r.get("userId") == "ip-lead", count=3)
    await stack.settled()

    by_id = {record["messageId"]: record for record in records}
    assert by_id["ip-1"]["context"]["ip"] == "203.0.113.0"  # the sender's own claim, truncated
    assert by_id["ip-2"]["context"]["ip"] == "198.51.100.0"  # the address the load balancer saw
    assert by_id["ip-3"]["context"]["ip"] == "2001:db8:1::"
    everything = [value for records in stack.raw.records.values() for _, value in records]
    everything += [value for records in stack.pipeline.recorder.records.values() for _, value in records]
    for whole in (b"203.0.113.45", b"198.51.100.23", b"10.9.8.7", b"2001:db8:1:2:3:4:5:6", b"eeee:1", b"127.0.0.1"):
        assert not any(whole in value for value in everything), whole


async def test_a_hit_without_consent_leaves_no_trace_but_a_counter(stack: Stack):
    before = await stack.collector_accounting()
    worker_before = await stack.settled()
    status, headers, body = await stack.request(
        "GET", signed_pixel_path({"uid": "private-lead", "path": "/pricing", "mid": "dnt-1"}), headers={"User-Agent": CHROME, "DNT": "1"})
    assert (status, body) == (200, GIF) and cookie_from(headers) is None
    status, headers, body = await stack.request(
        "GET", "/p.gif?path=/pricing&mid=dnt-2&consent=false",
        headers={"User-Agent": CHROME, "Cookie": "ls_vid=abcdef0123456789"})
    assert (status, body) == (200, GIF)
    assert headers["Set-Cookie"].startswith('ls_vid=""') or "Max-Age=0" in headers["Set-Cookie"]  # forgotten
    status, answer = await stack.post("/v1/track", {"messageId": "dnt-3", "userId": "private-lead",
                                                    "event": "Demo Requested", "context": {"consent": False}})
    assert (status, answer) == (200, {"success": True, "accepted": 0, "consent_refused": 1})
    await stack.request("POST", "/v1/form", data={"email": "pri@vate.io", "_event": "Demo Requested", "writeKey": WEB_KEY},
                        headers={"Sec-GPC": "1", "Referer": "https://www.example.com/demo"})
    after = await stack.collector_accounting()
    assert after["balanced"], after  # nothing in flight: the raw topic's end now includes all it will ever get
    await stack.raw.read_to_end()
    await stack.pipeline.caught_up()
    worker_after = await stack.pipeline.accounting()

    assert after["consent_refused"] - before["consent_refused"] == 4
    assert after["accepted"] == before["accepted"]
    assert worker_after["received"] == worker_before["received"]
    raw = [value for _, value in stack.raw.records[stack.pipeline.topic("leads.events.raw")]]
    assert not any(b"dnt-" in value or b"private-lead" in value or b"pri@vate.io" in value for value in raw)
    assert (await stack.pipeline.lead("private-lead"))[0] == 404


async def test_a_browser_form_posts_redirects_back_and_identifies_the_visitor_by_email(stack: Stack):
    _, headers, _ = await stack.request("GET", "/p.gif?path=/pricing", headers={"User-Agent": CHROME})
    visitor = cookie_from(headers)
    status, headers, _ = await stack.request(
        "POST", "/v1/form", data={"email": "Fay@Initech.com", "company": "Initech", "password": "hunter2",
                                  "_event": "Demo Requested", "_redirect": "/thanks", "writeKey": WEB_KEY},
        headers={"Referer": "https://www.example.com/demo", "User-Agent": CHROME, "Cookie": f"ls_vid={visitor}"})

    assert (status, headers["Location"]) == (303, "https://www.example.com/thanks")
    document = await stack.lead_when("fay@initech.com", lambda d: "pricing_view" in counts(d))
    assert counts(document) == {"pricing_view": 1, "demo_request": 1}
    [record] = await stack.raw_records(lambda r: r.get("event") == "Demo Requested" and r.get("anonymousId") == visitor)
    assert "password" not in record["properties"] and "writeKey" not in record["properties"]
    # Elsewhere than the referring site, the redirect is not followed.
    _, elsewhere, _ = await stack.request("POST", "/v1/form", data={"_redirect": "https://evil.example/x",
                                                                    "writeKey": WEB_KEY},
                                          headers={"Referer": "https://www.example.com/demo"})
    assert elsewhere["Location"] == "https://www.example.com/demo"


async def test_browsers_get_cors_answers_and_the_snippet(stack: Stack):
    origin = {"Origin": "https://www.example.com"}
    status, headers, _ = await stack.request("OPTIONS", "/v1/track", headers={
        **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://www.example.com"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    _, headers, _ = await stack.request("POST", "/v1/page", {"anonymousId": "cors-v", "writeKey": WEB_KEY}, origin)
    assert headers["Access-Control-Allow-Credentials"] == "true"
    _, headers, _ = await stack.request("POST", "/v1/page", {"anonymousId": "cors-v", "writeKey": WEB_KEY},
                                        {"Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in headers

    status, headers, body = await stack.request("GET", "/s.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert b"sendBeacon" in body and b"doNotTrack" in body and b'"/v1/"' in body


async def test_a_future_timestamp_is_clamped_to_the_time_received_and_counted(stack: Stack):
    before = await stack.collector_accounting()
    await stack.post("/v1/track", {"messageId": "skew-1", "userId": "skew-lead", "event": "Demo Requested",
                                   "timestamp": "2099-01-01T00:00:00Z"})
    [record] = await stack.raw_records(lambda r: r.get("messageId") == "skew-1")

    assert record["originalTimestamp"] == "2099-01-01T00:00:00Z"
    assert record["timestamp"] == record["receivedAt"] and record["timestamp"] <= iso_time(time.time())
    assert (await stack.collector_accounting())["clock_skew_clamped"] == before["clock_skew_clamped"] + 1


async def test_the_native_form_and_the_other_segment_calls_are_accepted(stack: Stack):
    status, answer = await stack.post("/v1/events", [
        {"type": "page", "id": "n-1", "user": "native-lead", "path": "/pricing", "at": at(0)},
        {"type": "track", "id": "n-2", "user": "native-lead", "event": "Trial Started", "at": at(1)},
    ])
    assert (status, answer) == (200, {"success": True, "accepted": 2})
    for path, body in (("/v1/group", {"userId": "native-lead", "groupId": "acme", "traits": {"name": "Acme",
                                                                                            "employees": 300}}),
                       ("/v1/alias", {"userId": "native-lead", "previousId": "native-visitor"}),
                       ("/v1/screen", {"userId": "native-lead", "name": "Dashboard"})):
        assert (await stack.post(path, body))[0] == 200, path
    document = await stack.lead_when("native-lead", lambda d: d["profile"].get("company") == "Acme")
    assert counts(document)["pricing_view"] == 1 and counts(document)["trial_signup"] == 1


async def test_health_metrics_and_the_collectors_own_accounting(stack: Stack):
    assert (await stack.collector.get_json("/healthz")) == (200, {"ready": True})
    async with aiohttp.ClientSession() as session:
        async with session.get(stack.collector.url + "/metrics") as response:
            text = await response.text()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    names = {s.name for s in samples}
    assert {"leadstream_collector_requests_total", "leadstream_collector_events_accepted_total",
            "leadstream_collector_events_rejected_total", "leadstream_collector_consent_refused_total",
            "leadstream_collector_clock_skew_clamped_total", "leadstream_events_received_total"} <= names
    assert not names & {"leadstream_events_scored_total", "leadstream_events_held"}  # the workers' alone
    assert all(s.labels.get("source") == "collector" for s in samples if s.name == "leadstream_events_received_total")
    assert any(s.name == "leadstream_collector_requests_total" and s.labels == {"endpoint": "pixel", "status": "200"}
               and s.value > 0 for s in samples)
    for sample in samples:
        for value in sample.labels.values():
            assert "@" not in value and "://" not in value and "/" not in value.strip("/"), sample

    references = [ref for ref in referenced_metrics().values() if ref.process == "collector"]
    assert len(references) >= 5, "the dashboard should read the collector's metrics"
    missing = {ref.name: ref.used_in for ref in references if not ref.sample_names & (names | {
        f.name for f in text_string_to_metric_families(text)})}
    assert not missing, f"the monitoring config reads metrics no collector exports: {missing}"

    accounting = await stack.collector_accounting()
    worker = await stack.settled()
    assert accounting["balanced"]
    assert accounting["received"] == accounting["accepted"] + accounting["rejected"] + accounting["consent_refused"]
    # Everything the collector accepted reached the worker, and ended in one of its buckets.
    assert worker["received_by_source"]["raw_topic"] == accounting["accepted"]
    assert worker["balanced"]
