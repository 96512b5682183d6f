"""The collector under abuse, without Kafka: signed pixel claims, event caps, bounded answers, rate
limits, a bounded pile of pixel events, and CORS that never hands credentials to any origin.

The HTTP tests run the collector's own aiohttp application in front of ``HeldProducer``, a stand-in
for the collector's producer wrapper (not for Kafka) that keeps what it is given and confirms
only when told; tests/security/ runs the same refusals against a real collector on Apache Kafka.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.collector import metrics
from streams.collector.config import collector_settings_from
from streams.collector.context import CollectorContext
from streams.collector.edge import Hit
from streams.collector.intake import Intake
from streams.collector.pixel_signing import canonical_query, needs_signature, signature, signed_by
from streams.collector.server import web_app
from streams.collector.write_keys import parse_write_keys
from streams.errors import ConfigError
from tests.integration.pixel_urls import PIXEL_KEY_ID, PIXEL_SECRET, signed_pixel_path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "collector.md"
KEYS = parse_write_keys(f"{PIXEL_KEY_ID}:{PIXEL_SECRET}", "test", min_length=32)
WRITE_KEY = "web-secret-22"


class HeldProducer:
    """Stand-in for streams.collector.producer.RawProducer: records are kept, deliveries confirmed on ``release``."""

    def __init__(self) -> None:
        self.started = True
        self.records: list[tuple[bytes, bytes]] = []
        self._pending: list[asyncio.Future] = []

    async def reaches_kafka(self) -> bool:
        return self.started

    async def send_all(self, records: Any) -> None:
        self.records.extend(records)

    async def send_soon(self, key: bytes, value: bytes) -> asyncio.Future:
        self.records.append((key, value))
        delivery = asyncio.get_running_loop().create_future()
        self._pending.append(delivery)
        return delivery

    def release(self) -> None:
        for delivery in self._pending:
            delivery.set_result(None)
        self._pending.clear()


def pairs_of(path: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl, urlsplit
    return parse_qsl(urlsplit(path).query, keep_blank_values=True)


# --- signing -----------------------------------------------------------------------------------

def test_the_worked_example_in_the_documentation_is_what_the_collector_computes():
    text = DOCS.read_text()
    example = re.search(r"<!-- signing example -->(.*?)<!-- /signing example -->", text, re.S)
    assert example, "docs/collector.md lost its worked signing example"
    block = example.group(1)
    key = re.search(r"key `([^`]+)`", block).group(1)
    canonical = re.search(r"canonical query:\n+```\n(.+?)\n```", block).group(1)
    documented = re.search(r"signature:\n+```\n([0-9a-f]{64})\n```", block).group(1)
    url = re.search(r"URL:\n+```\n(\S+)\n```", block).group(1)

    pairs = pairs_of(url)
    assert canonical_query(pairs) == canonical
    assert signature(key, pairs) == documented
    assert dict(pairs)["sig"] == documented
    keys = parse_write_keys(f"{dict(pairs)['kid']}:{key}", "docs", min_length=32)
    assert signed_by(keys, pairs, now=0) == dict(pairs)["kid"]


@pytest.mark.parametrize(("query", "needed"), [
    ({"path": "/pricing"}, False), ({"t": "email_open", "campaign": "spring"}, False), ({"aid": "v-1"}, False),
    ({"t": "track", "e": "Demo Requested"}, True), ({"uid": "lead-1"}, True), ({"email": "ceo@victim.com"}, True),
    ({"t": "email_open", "userId": "lead-1"}, True), ({"type": "TRACK"}, True), ({"uid": ""}, False),
])
def test_identity_claims_and_track_events_need_a_signature_views_and_opens_do_not(query, needed):
    assert needs_signature(list(query.items())) is needed


def test_a_forged_altered_foreign_or_expired_signature_is_refused():
    good = pairs_of(signed_pixel_path({"t": "track", "e": "Demo Requested", "uid": "lead-1"}))
    assert signed_by(KEYS, good, now=0) == PIXEL_KEY_ID

    altered = [(name, "ceo@victim.com" if name == "uid" else value) for name, value in good]
    added = [*good, ("email", "ceo@victim.com")]
    foreign = pairs_of(signed_pixel_path({"uid": "lead-1"}, secret="another-key-of-32-characters-xxxxx"))
    unknown_kid = pairs_of(signed_pixel_path({"uid": "lead-1"}, key_id="other"))
    unsigned = [(name, value) for name, value in good if name != "sig"]
    for forged in (altered, added, foreign, unknown_kid, unsigned):
        assert signed_by(KEYS, forged, now=0) is None

    expiring = pairs_of(signed_pixel_path({"uid": "lead-1", "exp": "1000"}))
    assert signed_by(KEYS, expiring, now=999) == PIXEL_KEY_ID
    assert signed_by(KEYS, expiring, now=1000) is None


# --- settings ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("LEADSTREAM_COLLECTOR_PIXEL_KEYS", "mail:too-short-for-signing", "shorter than 32 characters"),
    ("LEADSTREAM_COLLECTOR_MAX_BATCH_EVENTS", "0", "≥ 1"),
    ("LEADSTREAM_COLLECTOR_MAX_REJECTIONS_LISTED", "many", "whole number"),
    ("LEADSTREAM_COLLECTOR_MAX_PENDING_PIXELS", "-1", "≥ 1"),
    ("LEADSTREAM_COLLECTOR_CLIENT_RATE", "-5", "≥ 0"),
    ("LEADSTREAM_COLLECTOR_CLIENT_BURST", "0", "≥ 1"),
    ("LEADSTREAM_COLLECTOR_WRITE_KEY_RATE", "fast", "number"),
    ("LEADSTREAM_COLLECTOR_WRITE_KEY_BURST", "0.5", "≥ 1"),
])
def test_every_abuse_setting_is_checked_at_start_naming_it(variable, value, problem):
    with pytest.raises(ConfigError, match=f"^{variable}: .*{re.escape(problem)}"):
        collector_settings_from({variable: value})


def test_the_abuse_limits_have_their_documented_defaults():
    config = collector_settings_from({})
    assert (config.max_batch_events, config.max_rejections_listed, config.max_pending_pixels) == (500, 20, 10_000)
    assert (config.client_rate, config.client_burst, config.key_rate, config.key_burst) == (50, 200, 500, 2000)


# --- the application, in front of the stand-in producer ------------------------------------------

async def collector_client(env: dict[str, str]) -> tuple[TestClient, HeldProducer, Intake]:
    config = collector_settings_from(env)
    producer = HeldProducer()
    intake = Intake(producer, 32 * 1024, config.max_rejections_listed, config.max_pending_pixels)  # type: ignore[arg-type]
    client = TestClient(TestServer(web_app(CollectorContext(config, intake)), host="127.0.0.1"))
    await client.start_server()
    return client, producer, intake


WRITE_KEYS_ENV = {"LEADSTREAM_COLLECTOR_WRITE_KEYS": f"web:{WRITE_KEY}",
                  "LEADSTREAM_COLLECTOR_PIXEL_KEYS": f"{PIXEL_KEY_ID}:{PIXEL_SECRET}"}


async def test_under_write_keys_a_forged_pixel_track_is_refused_and_a_signed_one_taken():
    client, producer, intake = await collector_client(WRITE_KEYS_ENV)
    try:
        rejected_before = metrics.accounting()["rejected_by_reason"].get(metrics.UNSIGNED_CLAIM, 0)
        forged = await client.get("/p.gif?t=track&e=Demo%20Requested&email=ceo@victim.com")
        assert forged.status == 403 and forged.content_type == "image/gif"
        assert producer.records == []
        assert metrics.accounting()["rejected_by_reason"][metrics.UNSIGNED_CLAIM] == rejected_before + 1

        view = await client.get("/p.gif?path=/pricing")  # an anonymous page view needs nothing
        signed = await client.get(signed_pixel_path({"t": "track", "e": "Demo Requested", "uid": "lead-1"}))
        assert (view.status, signed.status) == (200, 200)
        assert [orjson.loads(value).get("event") for _, value in producer.records] == [None, "Demo Requested"]
        assert b"sig" not in producer.records[1][1] and b"kid" not in producer.records[1][1]
        producer.release()
        await intake.drain()
    finally:
        await client.close()


async def test_without_write_keys_the_pixel_stays_open_as_documented():
    client, producer, intake = await collector_client({})
    try:
        assert (await client.get("/p.gif?t=track&e=Demo%20Requested&uid=lead-1")).status == 200
        assert len(producer.records) == 1
        producer.release()
        await intake.drain()
    finally:
        await client.close()


async def test_a_batch_over_the_cap_is_refused_whole_with_a_short_answer():
    client, producer, _ = await collector_client({"LEADSTREAM_COLLECTOR_MAX_BATCH_EVENTS": "10"})
    try:
        response = await client.post("/v1/batch", data=orjson.dumps({"batch": [{}] * 11}))
        body = await response.json()
        assert response.status == 413 and body["rejected_count"] == 11 and "at most 10 events" in body["error"]
        native = await client.post("/v1/events", data=orjson.dumps([1] * 11))
        assert native.status == 413
        assert producer.records == []
    finally:
        await client.close()


async def test_rejections_are_listed_up_to_the_bound_and_counted_in_full():
    client, _, _ = await collector_client({"LEADSTREAM_COLLECTOR_MAX_REJECTIONS_LISTED": "3"})
    try:
        response = await client.post("/v1/batch", data=orjson.dumps({"batch": [1] * 400}))
        raw = await response.read()
        body = orjson.loads(raw)
        assert response.status == 400 and body["rejected_count"] == 400
        assert [r["index"] for r in body["rejected"]] == [0, 1, 2]
        assert len(raw) < 1000  # the answer stays small whatever the batch
    finally:
        await client.close()


async def test_a_client_past_its_budget_gets_429_with_retry_after_and_health_is_never_limited():
    client, _, intake = await collector_client({"LEADSTREAM_COLLECTOR_CLIENT_RATE": "0.5",
                                                "LEADSTREAM_COLLECTOR_CLIENT_BURST": "3"})
    try:
        statuses = [(await client.get("/p.gif?path=/x")).status for _ in range(3)]
        limited = await client.get("/p.gif?path=/x")
        assert statuses == [200, 200, 200] and limited.status == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await client.get("/healthz")).status == 200 and (await client.get("/metrics")).status == 200
        intake.producer.release()  # type: ignore[attr-defined]
        await intake.drain()
    finally:
        await client.close()


async def test_a_write_key_past_its_budget_gets_429():
    client, _, _ = await collector_client({**WRITE_KEYS_ENV, "LEADSTREAM_COLLECTOR_WRITE_KEY_RATE": "0.5",
                                           "LEADSTREAM_COLLECTOR_WRITE_KEY_BURST": "2"})
    try:
        event = {"type": "page", "anonymousId": "v-1", "writeKey": WRITE_KEY}
        statuses = [(await client.post("/v1/page", data=orjson.dumps(event))).status for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        await client.close()


async def test_pixel_events_waiting_for_kafka_are_bounded_503_past_the_bound():
    client, producer, intake = await collector_client({"LEADSTREAM_COLLECTOR_MAX_PENDING_PIXELS": "5"})
    try:
        statuses = [(await client.get(f"/p.gif?path=/p{n}")).status for n in range(8)]
        assert statuses == [200] * 5 + [503] * 3
        saturated = await client.get("/p.gif?path=/again")
        assert saturated.headers["Retry-After"] == "1" and len(producer.records) == 5
        producer.release()
        await intake.drain()
        assert (await client.get("/p.gif?path=/after")).status == 200  # confirmed: room again
        producer.release()
        await intake.drain()
    finally:
        await client.close()


def test_the_intake_counts_a_busy_pixel_as_received_and_rejected():
    intake = Intake(HeldProducer(), 32 * 1024, max_pending=0)  # type: ignore[arg-type]
    before = metrics.accounting()
    assert intake.take_soon("pixel", {"type": "page", "anonymousId": "v"}, Hit(received_at=0.0)) is None  # busy: 503
    after = metrics.accounting()
    assert after["received"] - before["received"] == 1
    assert after["rejected_by_reason"][metrics.BUSY] - before["rejected_by_reason"].get(metrics.BUSY, 0) == 1


async def test_cors_star_is_a_literal_star_without_credentials_and_a_listed_origin_is_echoed():
    anyone, _, _ = await collector_client({})
    try:
        response = await anyone.post("/v1/page", data=orjson.dumps({"anonymousId": "v"}),
                                     headers={"Origin": "https://evil.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers
    finally:
        await anyone.close()
    listed, _, _ = await collector_client({"LEADSTREAM_COLLECTOR_ALLOWED_ORIGINS": "https://www.example.com"})
    try:
        response = await listed.post("/v1/page", data=orjson.dumps({"anonymousId": "v"}),
                                     headers={"Origin": "https://www.example.com"})
        assert response.headers["Access-Control-Allow-Origin"] == "https://www.example.com"
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        other = await listed.post("/v1/page", data=orjson.dumps({"anonymousId": "v"}),
                                  headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
    finally:
        await listed.close()
