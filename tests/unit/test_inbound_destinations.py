"""Segment's and RudderStack's webhook destinations and browser SDK paths, without Kafka.

Signatures are checked against vectors computed by Node's own ``crypto.createHmac('sha1', ...)``
over ``JSON.stringify(...)``, the code Segment's destination runs, not by this project's code. The
HTTP tests run the collector's application in front of ``HeldProducer`` (a stand-in for the
collector's producer wrapper, not for Kafka); tests/integration/test_inbound_destinations.py runs
the same destinations against a worker on Apache Kafka.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from streams.collector import metrics
from streams.collector.config import collector_settings_from
from streams.collector.webhook_auth import first_element, rudderstack_refusal, segment_refusal
from streams.errors import ConfigError
from tests.unit.test_collector_abuse import collector_client

SECRET = "whsec-segment-shared-1234"
# JSON.stringify of one event, and of a batch whose first element is that event, as Segment sends them.
EVENT_JSON = (b'{"type":"track","messageId":"sig-1","userId":"lead-sig","event":"Demo Requested",'
              b'"properties":{"plan":"pro"},"timestamp":"2026-01-01T00:00:00.000Z"}')
BATCH_JSON = b'[' + EVENT_JSON + b',{"type":"page","messageId":"sig-2","anonymousId":"v-sig","properties":{"path":"/pricing"}}]'
NODE_SIGNATURE = "c0a7fc79fbc451f4c9b2d88455f90dc4c328652e"  # node: createHmac('sha1', SECRET).update(EVENT_JSON)
RUDDER_HEADER, RUDDER_SECRET = "X-Leadstream-Secret", "rudder-shared-secret-5678"
WRITE_KEY = "web-secret-22"
ENV = {"LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET": SECRET, "LEADSTREAM_COLLECTOR_RUDDERSTACK_SECRET": RUDDER_SECRET,
       "LEADSTREAM_COLLECTOR_WRITE_KEYS": f"web:{WRITE_KEY}"}
# RudderStack's webhook payload: the event as its data plane received it, with the fields it adds.
RUDDERSTACK_EVENT = {
    "type": "track", "event": "Demo Requested", "messageId": "rs-unit-1", "userId": "lead-rs",
    "anonymousId": "anon-rs", "channel": "web", "rudderId": "2f1c1ab0-0000-4000-8000-000000000001",
    "properties": {"plan": "pro"}, "integrations": {"All": True}, "request_ip": "203.0.113.77",
    "context": {"ip": "203.0.113.77", "library": {"name": "RudderLabs JavaScript SDK", "version": "3.34.1"},
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"},
    "originalTimestamp": "2026-01-01T00:00:00.000Z", "sentAt": "2026-01-01T00:00:00.100Z",
    "receivedAt": "2026-01-01T00:00:00.200Z", "timestamp": "2026-01-01T00:00:00.100Z",
}


def refused(destination: str, reason: str) -> float:
    return metrics.REGISTRY.get_sample_value("leadstream_collector_webhook_refused_total",
                                             {"destination": destination, "reason": reason}) or 0.0


# --- the signature -------------------------------------------------------------------------------

def test_a_single_event_is_verified_by_the_hmac_sha1_of_its_raw_body():
    assert segment_refusal(SECRET, EVENT_JSON, NODE_SIGNATURE) is None
    assert segment_refusal(SECRET, EVENT_JSON, NODE_SIGNATURE.upper()) is None  # hex in either case


def test_a_batch_is_verified_by_the_signature_segment_gives_it_its_first_event():
    assert first_element(BATCH_JSON) == EVENT_JSON
    assert segment_refusal(SECRET, BATCH_JSON, NODE_SIGNATURE) is None


@pytest.mark.parametrize(("body", "signature", "reason"), [
    (EVENT_JSON, None, "missing_signature"),
    (EVENT_JSON, "", "missing_signature"),
    (EVENT_JSON, "sha1=" + NODE_SIGNATURE, "bad_signature"),
    (EVENT_JSON, "0" * 40, "bad_signature"),
    (EVENT_JSON.replace(b"lead-sig", b"lead-evil"), NODE_SIGNATURE, "bad_signature"),  # body changed after signing
    (BATCH_JSON.replace(b"sig-1", b"sig-9"), NODE_SIGNATURE, "bad_signature"),  # the signed first event changed
    (b" " + EVENT_JSON, NODE_SIGNATURE, "bad_signature"),  # not the bytes that were signed
])
def test_a_missing_malformed_or_wrong_signature_is_refused_with_its_reason(body, signature, reason):
    assert segment_refusal(SECRET, body, signature) == reason


def test_without_a_configured_secret_nothing_is_taken():
    assert segment_refusal(None, EVENT_JSON, NODE_SIGNATURE) == "not_configured"
    assert rudderstack_refusal(None, RUDDER_SECRET) == "not_configured"


def test_rudderstacks_shared_header_must_hold_the_secret():
    assert rudderstack_refusal(RUDDER_SECRET, RUDDER_SECRET) is None
    assert rudderstack_refusal(RUDDER_SECRET, None) == "missing_secret"
    assert rudderstack_refusal(RUDDER_SECRET, RUDDER_SECRET[:-1]) == "wrong_secret"


# --- settings ------------------------------------------------------------------------------------

def test_secrets_come_from_the_environment_or_a_file(tmp_path):
    secret_file = tmp_path / "segment"
    secret_file.write_text(SECRET + "\n")
    config = collector_settings_from({"LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET_FILE": str(secret_file),
                                      "LEADSTREAM_COLLECTOR_RUDDERSTACK_SECRET": RUDDER_SECRET,
                                      "LEADSTREAM_COLLECTOR_RUDDERSTACK_HEADER": "X-From-Rudder"})
    assert config.destinations.segment == SECRET
    assert (config.destinations.rudderstack, config.destinations.rudderstack_header) == (RUDDER_SECRET, "X-From-Rudder")
    assert SECRET not in repr(config) and RUDDER_SECRET not in repr(config)


@pytest.mark.parametrize(("env", "named"), [
    ({"LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET": "short"}, "LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET"),
    ({"LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET": SECRET, "LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET_FILE": "/x"},
     "set one of them"),
    ({"LEADSTREAM_COLLECTOR_RUDDERSTACK_SECRET_FILE": "/nonexistent/secret"}, "LEADSTREAM_COLLECTOR_RUDDERSTACK_SECRET_FILE"),
    ({"LEADSTREAM_COLLECTOR_RUDDERSTACK_HEADER": "X Bad:Header"}, "LEADSTREAM_COLLECTOR_RUDDERSTACK_HEADER"),
    ({"LEADSTREAM_COLLECTOR_RUDDERSTACK_HEADER": "Content-Type"}, "LEADSTREAM_COLLECTOR_RUDDERSTACK_HEADER"),
    ({"LEADSTREAM_COLLECTOR_RUDDERSTACK_SECRET": "replace-with-a-secret-of-yours"}, "placeholder"),
])
def test_a_bad_destination_setting_stops_the_collector_naming_it(env, named):
    with pytest.raises(ConfigError, match=named):
        collector_settings_from(env)


# --- over HTTP -----------------------------------------------------------------------------------

def produced(producer: Any) -> list[dict[str, Any]]:
    return [orjson.loads(value) for _, value in producer.records]


def without_receipt(event: dict[str, Any]) -> dict[str, Any]:
    """The event but its receipt time and the address of whoever posted it (our endpoints add the browser's)."""
    context = {key: value for key, value in event["context"].items() if key != "ip"}
    return {**{key: value for key, value in event.items() if key != "receivedAt"}, "context": context}


async def test_a_signed_segment_batch_is_produced_as_the_same_events_sent_to_v1_batch():
    client, producer, _ = await collector_client(ENV)
    try:
        response = await client.post("/v1/webhooks/segment", data=BATCH_JSON, headers={
            "X-Signature": NODE_SIGNATURE, "Content-Type": "application/json"})
        assert (response.status, await response.json()) == (200, {"success": True, "accepted": 2})
        from_webhook = produced(producer)
        producer.records.clear()
        auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        response = await client.post("/v1/batch", data=b'{"batch":' + BATCH_JSON + b"}", headers={"Authorization": auth})
        assert response.status == 200
        assert [without_receipt(e) for e in from_webhook] == [without_receipt(e) for e in produced(producer)]
        assert [key for key, _ in producer.records] == [b"lead-sig", b"v-sig"]
        assert all("ip" not in event["context"] for event in from_webhook)  # Segment's server is no visitor
    finally:
        await client.close()


async def test_a_segment_request_with_a_bad_or_no_signature_is_401_with_its_reason_and_counted():
    client, producer, _ = await collector_client(ENV)
    before = refused("segment", "bad_signature"), refused("segment", "missing_signature")
    try:
        tampered = EVENT_JSON.replace(b"lead-sig", b"lead-evil")
        response = await client.post("/v1/webhooks/segment", data=tampered, headers={"X-Signature": NODE_SIGNATURE})
        assert response.status == 401
        assert (await response.json())["reason"] == "bad_signature"
        response = await client.post("/v1/webhooks/segment", data=EVENT_JSON)
        assert (response.status, (await response.json())["reason"]) == (401, "missing_signature")
        assert producer.records == []
        assert (refused("segment", "bad_signature"), refused("segment", "missing_signature")) == (
            before[0] + 1, before[1] + 1)
    finally:
        await client.close()


async def test_a_destination_not_set_up_refuses_everything_even_on_an_open_collector():
    client, producer, _ = await collector_client({})
    try:
        response = await client.post("/v1/webhooks/segment", data=EVENT_JSON, headers={"X-Signature": NODE_SIGNATURE})
        body = await response.json()
        assert response.status == 401 and body["reason"] == "not_configured"
        assert "LEADSTREAM_COLLECTOR_SEGMENT_SHARED_SECRET" in body["error"]
        response = await client.post("/v1/webhooks/rudderstack", json=RUDDERSTACK_EVENT)
        assert (response.status, (await response.json())["reason"]) == (401, "not_configured")
        assert producer.records == []
    finally:
        await client.close()


async def test_a_rudderstack_webhook_event_is_taken_with_its_header_and_refused_without():
    client, producer, _ = await collector_client(ENV)
    try:
        response = await client.post("/v1/webhooks/rudderstack", json=RUDDERSTACK_EVENT,
                                     headers={RUDDER_HEADER: "not-the-secret-at-all"})
        assert (response.status, (await response.json())["reason"]) == (401, "wrong_secret")
        response = await client.post("/v1/webhooks/rudderstack", json=RUDDERSTACK_EVENT,
                                     headers={RUDDER_HEADER: RUDDER_SECRET, "User-Agent": "RudderLabs"})
        assert (response.status, await response.json()) == (200, {"success": True, "accepted": 1})
        [(key, _)] = producer.records
        [event] = produced(producer)
        assert key == b"lead-rs"
        assert event["messageId"] == "rs-unit-1" and event["event"] == "Demo Requested"
        # The visitor's own address, truncated; never RudderStack's server's (the request's) address.
        assert event["context"]["ip"] == "203.0.113.0" and event["request_ip"] == "203.0.113.0"
    finally:
        await client.close()


async def test_a_rudderstack_event_that_fails_the_checks_gets_the_same_reason_as_on_v1_batch():
    client, producer, _ = await collector_client(ENV)
    try:
        nameless = {**RUDDERSTACK_EVENT, "userId": "", "anonymousId": None}
        response = await client.post("/v1/webhooks/rudderstack", json=nameless, headers={RUDDER_HEADER: RUDDER_SECRET})
        body = await response.json()
        assert response.status == 400 and body["rejected"][0]["reason"] == "missing_identity"
        response = await client.post("/v1/webhooks/rudderstack", data=b"{not json",
                                     headers={RUDDER_HEADER: RUDDER_SECRET})
        assert (response.status, (await response.json())["rejected"][0]["reason"]) == (400, "malformed_json")
        assert producer.records == []
    finally:
        await client.close()


# --- the browser SDKs' paths ----------------------------------------------------------------------

@pytest.mark.parametrize(("path", "event_type"), [("/v1/p", "page"), ("/v1/i", "identify"), ("/v1/t", "track"),
                                                  ("/v1/g", "group"), ("/v1/a", "alias"), ("/v1/s", "screen")])
async def test_segment_browser_sdk_short_paths_take_a_text_plain_body_with_the_write_key_inside(path, event_type):
    client, producer, _ = await collector_client(ENV)
    message = {"type": event_type, "messageId": f"short-{event_type}", "anonymousId": "v-short", "userId": "lead-short",
               "previousId": "v-short", "event": "Demo Requested", "writeKey": WRITE_KEY, "_metadata": {"bundled": []}}
    try:
        response = await client.post(path, data=orjson.dumps(message), headers={"Content-Type": "text/plain"})
        assert (response.status, await response.json()) == (200, {"success": True, "accepted": 1})
        [event] = produced(producer)
        assert event["type"] == event_type and "writeKey" not in event
    finally:
        await client.close()


async def test_segment_browser_sdk_batches_to_v1_b_and_a_wrong_key_there_is_401():
    client, producer, _ = await collector_client(ENV)
    body = {"writeKey": WRITE_KEY, "sentAt": "2026-01-01T00:00:01.000Z", "batch": [
        {"type": "page", "messageId": "b-1", "anonymousId": "v-b", "properties": {"path": "/pricing"}},
        {"type": "track", "messageId": "b-2", "anonymousId": "v-b", "event": "Demo Requested"}]}
    try:
        response = await client.post("/v1/b", data=orjson.dumps(body), headers={"Content-Type": "text/plain"})
        assert (response.status, await response.json()) == (200, {"success": True, "accepted": 2})
        response = await client.post("/v1/b", data=orjson.dumps({**body, "writeKey": "not-a-key"}))
        assert response.status == 401
        assert [e["messageId"] for e in produced(producer)] == ["b-1", "b-2"]
    finally:
        await client.close()


async def test_the_preflight_lets_both_sdks_send_their_headers():
    client, _, _ = await collector_client(ENV)
    try:
        response = await client.options("/v1/page", headers={
            "Origin": "https://www.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "anonymousid,authorization,content-type,rsa-since-last-attempt"})
        allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert response.status == 204
        assert {"anonymousid", "sentat", "authorization", "content-type", "x-retry-count", "rsa-recovered",
                "rsa-retry-attempt", "rsa-since-last-attempt", "rsa-since-first-attempt", "rsa-retry-reason"} <= allowed
    finally:
        await client.close()


async def test_a_destination_is_limited_by_its_own_bucket_not_as_one_client_address():
    # Segment's servers send every visitor's events from a few addresses: one client's budget of 1
    # would refuse the second request, the destination's budget of 3 refuses the fourth.
    client, producer, _ = await collector_client({**ENV, "LEADSTREAM_COLLECTOR_CLIENT_RATE": "0.01",
                                                  "LEADSTREAM_COLLECTOR_CLIENT_BURST": "1",
                                                  "LEADSTREAM_COLLECTOR_WRITE_KEY_RATE": "0.01",
                                                  "LEADSTREAM_COLLECTOR_WRITE_KEY_BURST": "3"})
    try:
        statuses = []
        for _ in range(4):
            response = await client.post("/v1/webhooks/segment", data=EVENT_JSON, headers={"X-Signature": NODE_SIGNATURE})
            statuses.append(response.status)
        assert statuses == [200, 200, 200, 429]
        assert "Retry-After" in response.headers
        assert len(producer.records) == 3
    finally:
        await client.close()
