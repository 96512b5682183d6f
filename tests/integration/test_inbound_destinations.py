"""Segment's and RudderStack's webhook destinations in front of a worker on Apache Kafka.

The requests are built as each vendor's destination builds them (Segment: ``JSON.stringify`` of the
event, or of the batch, with ``X-Signature`` the hex HMAC-SHA1 its destination code computes;
RudderStack: one event per request with the header the user configured); the HMAC itself is checked
against Node's in tests/unit/test_inbound_destinations.py. The same events, under other lead ids,
go to ``/v1/batch``, and each lead must end with the same score.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools.processes import CollectorProcess
from tests.integration.pipeline_harness import (
    RunningPipeline, at, settled_behind, start_collector, start_pipeline, stop_pipeline,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
WRITE_KEY = "server-secret-1"
SEGMENT_SECRET = "segment-shared-secret-0001"
RUDDER_HEADER, RUDDER_SECRET = "X-From-Rudderstack", "rudder-shared-secret-0002"
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


class Inbound:
    def __init__(self, pipeline: RunningPipeline, collector: CollectorProcess) -> None:
        self.pipeline, self.collector = pipeline, collector

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            async with session.post(self.collector.url + path, data=body, headers=headers) as response:
                return response.status, orjson.loads(await response.read())

    async def batch(self, events: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        return await self.post("/v1/batch", orjson.dumps({"batch": events}), {"Authorization": auth})

    async def settled(self) -> dict[str, Any]:
        return await settled_behind(self.collector, self.pipeline)

    async def metric(self, name: str, labels: dict[str, str]) -> float:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.collector.url + "/metrics") as response:
                text = await response.text()
        return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == name and sample.labels == labels)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def inbound(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("inbound")
    pipeline = await start_pipeline(kafka_bootstrap, log_dir)
    collector = await start_collector(pipeline, log_dir, env={
        "LEADSTREAM_COLLECTOR_WRITE_KEYS": f"server:{WRITE_KEY}",
        "LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET": SEGMENT_SECRET,
        "LEADSTREAM_COLLECTOR_RUDDERSTACK_SECRET": RUDDER_SECRET,
        "LEADSTREAM_COLLECTOR_RUDDERSTACK_HEADER": RUDDER_HEADER,
    })
    yield Inbound(pipeline, collector)
    collector.stop()
    await stop_pipeline(pipeline)


def stringify(value: Any) -> bytes:
    """JavaScript's JSON.stringify: no whitespace, non-ASCII as itself."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def segment_signed(body: Any, signed: Any) -> tuple[bytes, dict[str, str]]:
    """Segment's request: the JSON, and X-Signature over ``signed`` (the event, or a batch's first event)."""
    signature = hmac.new(SEGMENT_SECRET.encode(), stringify(signed), hashlib.sha1).hexdigest()
    return stringify(body), {"Content-Type": "application/json", "X-Signature": signature}


def journey(lead: str, prefix: str) -> list[dict[str, Any]]:
    """Who they are, pricing, a demo request: the Segment spec events a browser SDK would have sent."""
    context = {"userAgent": CHROME, "ip": "198.51.100.23", "library": {"name": "analytics.js", "version": "next-1.84.3"}}
    return [
        {"type": "identify", "messageId": f"{prefix}-1", "userId": lead, "anonymousId": f"{prefix}-visitor",
         "traits": {"email": f"{lead}@initech.com", "title": "VP Marketing", "employees": 400}, "context": context,
         "timestamp": at(0)},
        {"type": "page", "messageId": f"{prefix}-2", "userId": lead, "anonymousId": f"{prefix}-visitor",
         "properties": {"path": "/pricing", "url": "https://www.example.com/pricing"}, "context": context,
         "timestamp": at(1)},
        {"type": "track", "messageId": f"{prefix}-3", "userId": lead, "anonymousId": f"{prefix}-visitor",
         "event": "Demo Requested", "properties": {"plan": "pro"}, "context": context, "timestamp": at(2)},
    ]


def scored(document: dict[str, Any]) -> tuple[Any, ...]:
    return (document["score"], document["stage"], document["temperature"],
            sorted((c["signal"], c["count"]) for c in document["contributions"]))


async def test_a_signed_segment_webhook_batch_is_scored_like_the_same_events_sent_to_v1_batch(inbound: Inbound):
    events = journey("seg-webhook-lead", "segwh")
    status, answer = await inbound.post("/v1/webhooks/segment", *segment_signed(events, events[0]))
    assert (status, answer) == (200, {"success": True, "accepted": 3})
    status, answer = await inbound.batch(journey("seg-batch-lead", "segb"))
    assert (status, answer) == (200, {"success": True, "accepted": 3})

    pipeline = inbound.pipeline
    by_webhook = await pipeline.lead_when("seg-webhook-lead", lambda d: len(d["contributions"]) >= 2)
    by_batch = await pipeline.lead_when("seg-batch-lead", lambda d: len(d["contributions"]) >= 2)
    assert scored(by_webhook) == scored(by_batch)
    assert by_webhook["profile"]["email"] == "seg-webhook-lead@initech.com"

    # Segment retries a batch it thinks failed: the worker drops the repeats by messageId.
    before = (await inbound.settled())["deduplicated"]
    status, _ = await inbound.post("/v1/webhooks/segment", *segment_signed(events, events[0]))
    assert status == 200
    after = await inbound.settled()
    assert after["deduplicated"] == before + 3 and after["balanced"]
    assert scored(await pipeline.lead_when("seg-webhook-lead", lambda d: True)) == scored(by_batch)


async def test_a_single_signed_segment_event_is_taken(inbound: Inbound):
    [event] = [e for e in journey("seg-single-lead", "segone") if e["type"] == "track"]
    status, answer = await inbound.post("/v1/webhooks/segment", *segment_signed(event, event))
    assert (status, answer) == (200, {"success": True, "accepted": 1})
    document = await inbound.pipeline.lead_when("seg-single-lead", lambda d: bool(d["contributions"]))
    assert [c["signal"] for c in document["contributions"]] == ["demo_request"]


async def test_a_rudderstack_webhook_event_is_scored_like_the_same_events_sent_to_v1_batch(inbound: Inbound):
    def as_rudderstack_delivers(event: dict[str, Any]) -> dict[str, Any]:
        # RudderStack's webhook forwards the event as its data plane received it, with its own fields added.
        return {**event, "channel": "web", "rudderId": f"rid-{event['messageId']}", "request_ip": "198.51.100.23",
                "originalTimestamp": event["timestamp"], "sentAt": event["timestamp"], "receivedAt": event["timestamp"],
                "integrations": {"All": True}}

    for event in journey("rs-webhook-lead", "rswh"):
        status, answer = await inbound.post("/v1/webhooks/rudderstack", stringify(as_rudderstack_delivers(event)),
                                            {"Content-Type": "application/json", "User-Agent": "RudderLabs",
                                             RUDDER_HEADER: RUDDER_SECRET})
        assert (status, answer) == (200, {"success": True, "accepted": 1})
    assert (await inbound.batch(journey("rs-batch-lead", "rsb")))[0] == 200

    by_webhook = await inbound.pipeline.lead_when("rs-webhook-lead", lambda d: len(d["contributions"]) >= 2)
    by_batch = await inbound.pipeline.lead_when("rs-batch-lead", lambda d: len(d["contributions"]) >= 2)
    assert scored(by_webhook) == scored(by_batch)


async def test_a_bad_signature_or_secret_is_refused_counted_and_nothing_reaches_kafka(inbound: Inbound):
    pipeline = inbound.pipeline
    accepted_before = (await inbound.collector.get_json("/accounting"))[1]["accepted"]
    bad = await inbound.metric("leadstream_collector_webhook_refused_total",
                               {"destination": "segment", "reason": "bad_signature"})
    wrong = await inbound.metric("leadstream_collector_webhook_refused_total",
                                 {"destination": "rudderstack", "reason": "wrong_secret"})

    events = journey("forged-lead", "forged")
    body, headers = segment_signed(events, events[0])
    forged = body.replace(b"VP Marketing", b"Chief Executive Officer")  # changed after signing
    assert await inbound.post("/v1/webhooks/segment", forged, headers) == (401, {
        "success": False, "reason": "bad_signature",
        "error": "X-Signature is not the HMAC-SHA1 of the body with the shared secret"})
    status, answer = await inbound.post("/v1/webhooks/rudderstack", stringify(events[2]),
                                        {RUDDER_HEADER: "a-guess-at-the-secret"})
    assert (status, answer["reason"]) == (401, "wrong_secret")

    assert await inbound.metric("leadstream_collector_webhook_refused_total",
                                {"destination": "segment", "reason": "bad_signature"}) == bad + 1
    assert await inbound.metric("leadstream_collector_webhook_refused_total",
                                {"destination": "rudderstack", "reason": "wrong_secret"}) == wrong + 1
    collector = (await inbound.collector.get_json("/accounting"))[1]
    assert collector["accepted"] == accepted_before and collector["balanced"]
    await inbound.settled()
    status, _ = await pipeline.lead("forged-lead")
    assert status == 404
