"""The collector's edge, without a server: admission, write keys, settings, the pixel, forms, the native form."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict

from streams.contracts.encoding import iso_time
from streams.collector.config import collector_settings_from
from streams.collector.consent import request_consent
from streams.collector.edge import Accepted, Hit, Refused, Rejected, Unreadable, admit
from streams.collector.forms import _back, form_event
from streams.collector.pixel import pixel_event
from streams.collector.segment_api import from_native
from streams.collector.write_keys import basic_auth_key, parse_write_keys, presented_key
from streams.errors import ConfigError
from streams.contracts.segment import MAX_CLOCK_SKEW_S
from tests.unit.builders import T0

HIT = Hit(received_at=T0, client_ip="198.51.100.0")
LIMIT = 32 * 1024


def admitted(message: object, hit: Hit = HIT) -> Accepted:
    decision = admit(message, hit, LIMIT)
    assert isinstance(decision, Accepted), decision
    return decision


def test_an_accepted_event_is_keyed_by_user_id_and_carries_the_truncated_address_and_receipt_time():
    decision = admitted({"type": "track", "userId": "u1", "anonymousId": "v1", "event": "Demo Requested"})
    value = orjson.loads(decision.value)

    assert (decision.key, decision.type, decision.bot, decision.clamped) == (b"u1", "track", False, False)
    assert value["context"]["ip"] == "198.51.100.0"
    assert value["receivedAt"] == iso_time(T0)


def test_an_anonymous_event_is_keyed_by_its_visitor_and_a_form_known_by_email_by_that_email():
    assert admitted({"type": "page", "anonymousId": "v1"}).key == b"v1"
    assert admitted({"type": "identify", "traits": {"email": "Ada@Acme.io"}}).key == b"ada@acme.io"


def test_an_address_the_sender_put_anywhere_is_truncated_and_so_is_a_key_that_is_one():
    decision = admitted({"type": "page", "anonymousId": "203.0.113.9",
                         "context": {"ip": "203.0.113.77"}, "properties": {"from": "2001:db8:1:2:3:4:5:6"}})

    assert decision.key == b"203.0.113.0"
    assert b"203.0.113.77" not in decision.value and b"2001:db8:1:2:3:4:5:6" not in decision.value
    assert orjson.loads(decision.value)["context"]["ip"] == "203.0.113.0"


@pytest.mark.parametrize(("message", "reason"), [
    ("not an object", "not_an_object"),
    ({"type": "purchase", "userId": "u"}, "unknown_type"),
    ({"type": "page"}, "missing_identity"),
    ({"type": "track", "userId": "u"}, "invalid_field"),
    ({"type": "page", "userId": "u", "timestamp": "yesterday"}, "invalid_field"),
    ({"type": "page", "userId": "u", "timestamp": "0001-01-01T00:00:00+14:00"}, "invalid_field"),  # once accepted: it crashed the worker
    ({"type": "track", "userId": "u", "event": "x", "properties": {"blob": "x" * LIMIT}}, "oversized"),
    (Unreadable("invalid_field", "unknown field 'pth'"), "invalid_field"),
])
def test_what_the_worker_would_dead_letter_is_rejected_at_the_edge_with_the_same_reason(message, reason):
    decision = admit(message, HIT, LIMIT)

    assert isinstance(decision, Rejected) and decision.reason == reason


def test_a_rejected_events_type_label_comes_from_a_fixed_set():
    assert admit({"type": "<script>", "userId": "u"}, HIT, LIMIT).type == "invalid"
    assert admit({"type": "track", "userId": "u"}, HIT, LIMIT).type == "track"


@pytest.mark.parametrize("message", [
    {"type": "page", "userId": "u", "context": {"dnt": True}},
    {"type": "page", "userId": "u", "context": {"consent": False}},
    {"type": "track", "userId": "u", "event": "x", "properties": {"consent": "false"}},
])
def test_an_event_withholding_consent_is_refused_not_rejected(message):
    assert admit(message, HIT, LIMIT) == Refused(message["type"])


def test_a_request_withholding_consent_refuses_every_event_it_carries():
    hit = Hit(received_at=T0, consent=False)
    assert admit({"type": "page", "userId": "u"}, hit, LIMIT) == Refused("page")


@pytest.mark.parametrize(("headers", "query", "consents"), [
    ({}, {}, None), ({"DNT": "1"}, {}, False), ({"Sec-GPC": "1"}, {}, False), ({"DNT": "0"}, {}, None),
    ({}, {"consent": "false"}, False), ({}, {"consent": "no"}, False), ({}, {"dnt": "1"}, False),
    ({}, {"consent": "true"}, True),
])
def test_do_not_track_gpc_and_consent_false_are_read_from_the_request(headers, query, consents):
    assert request_consent(headers, query) is consents


def test_a_future_timestamp_is_set_to_the_time_received_and_the_original_kept():
    far = "2099-01-01T00:00:00Z"
    decision = admitted({"type": "page", "userId": "u", "timestamp": far})
    value = orjson.loads(decision.value)

    assert decision.clamped
    assert (value["timestamp"], value["originalTimestamp"]) == (iso_time(T0), far)


def test_a_timestamp_within_the_skew_is_kept():
    near = iso_time(T0 + 240)
    decision = admitted({"type": "page", "userId": "u", "timestamp": near})

    assert not decision.clamped and orjson.loads(decision.value)["timestamp"] == near
    assert MAX_CLOCK_SKEW_S >= 240


def test_a_batchs_context_sits_under_each_events_own_and_a_beacons_write_key_is_dropped():
    hit = Hit(received_at=T0, defaults={"context": {"library": {"name": "lib"}, "locale": "de"}})
    value = orjson.loads(admitted({"type": "page", "userId": "u", "writeKey": "secret-key",
                                   "context": {"locale": "fr"}}, hit).value)

    assert value["context"] == {"library": {"name": "lib"}, "locale": "fr"}
    assert "writeKey" not in value


def test_a_crawlers_event_is_accepted_and_flagged():
    assert admitted({"type": "page", "userId": "u", "context": {"userAgent": "Googlebot/2.1"}}).bot


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=4), max_leaves=20))
def test_any_json_whatsoever_is_admitted_rejected_or_refused_never_a_crash(message):
    assert isinstance(admit(message, HIT, LIMIT), Accepted | Rejected | Refused)


# --- write keys ---------------------------------------------------------------------------------

def test_write_keys_name_their_source_and_an_unknown_key_none():
    keys = parse_write_keys("web:web-secret-1, server:server-secret-2", "VAR")

    assert keys.required
    assert (keys.source_of("server-secret-2"), keys.source_of("web-secret-1"), keys.source_of("nope")) == (
        "server", "web", None)
    assert not parse_write_keys("", "VAR").required


@pytest.mark.parametrize(("raw", "problem"), [
    ("justasecretvalue", "entry 1 is not source:secret"),
    ("web:short", "shorter than 8"),
    ("web:secret-one-1,web:secret-two-2", "appear once"),
    ("a:same-secret-1,b:same-secret-1", "appear once"),
    ("bad source:secret-one-1", "entry 1"),
])
def test_a_bad_write_key_list_is_named_without_echoing_a_secret(raw, problem):
    with pytest.raises(ConfigError, match=problem) as failure:
        parse_write_keys(raw, "LEADSTREAM_COLLECTOR_WRITE_KEYS")
    assert str(failure.value).startswith("LEADSTREAM_COLLECTOR_WRITE_KEYS:")
    assert "justasecretvalue" not in str(failure.value)


def test_the_key_comes_from_basic_auth_then_the_body_then_the_query():
    basic = {"Authorization": "Basic " + base64.b64encode(b"key-in-header:").decode()}
    assert basic_auth_key(basic["Authorization"]) == "key-in-header"
    assert basic_auth_key("Basic !!!") is None and basic_auth_key("Bearer x") is None
    assert presented_key(basic, {"writeKey": "q"}, {"writeKey": "b"}) == "key-in-header"
    assert presented_key({}, {"writeKey": "q"}, {"writeKey": "b"}) == "b"
    assert presented_key({}, {"writeKey": "q"}, None) == "q"


# --- settings -------------------------------------------------------------------------------------

def test_the_collector_settings_have_safe_defaults():
    config = collector_settings_from({})

    assert (config.write_keys.required, config.max_body_bytes, config.allowed_origins, config.trust_forwarded,
            config.port) == (False, 512 * 1024, ("*",), False, 8080)


@pytest.mark.parametrize(("variable", "value"), [
    ("LEADSTREAM_COLLECTOR_MAX_BODY_BYTES", "12"),
    ("LEADSTREAM_COLLECTOR_ALLOWED_ORIGINS", "www.example.com"),
    ("LEADSTREAM_COLLECTOR_TRUST_FORWARDED", "maybe"),
    ("LEADSTREAM_COLLECTOR_PORT", "http"),
])
def test_a_bad_collector_setting_is_named(variable, value):
    with pytest.raises(ConfigError, match=f"^{variable}:"):
        collector_settings_from({variable: value})


def test_allowed_origins_are_matched_exactly():
    config = collector_settings_from({"LEADSTREAM_COLLECTOR_ALLOWED_ORIGINS": "https://www.example.com/, https://a.io"})

    assert config.origin_allowed("https://www.example.com") and config.origin_allowed("https://a.io")
    assert not config.origin_allowed("https://www.example.com.evil.io")


# --- the pixel, forms, the native form ------------------------------------------------------------

def test_a_pixel_hit_is_a_page_view_of_its_referer_by_its_cookie_visitor():
    event = pixel_event(MultiDict(), "https://www.example.com/pricing?plan=team", "Mozilla/5.0", "v-cookie")

    assert (event["type"], event["anonymousId"], event["properties"]["path"]) == ("page", "v-cookie", "/pricing")
    assert event["context"]["userAgent"] == "Mozilla/5.0" and event["messageId"].startswith("pixel-")


def test_an_email_open_pixel_names_its_lead_and_campaign():
    event = pixel_event(MultiDict(t="email_open", uid="lead-7", campaign="nov", mid="open-1"), None, None, "v")

    assert (event["type"], event["event"], event["userId"], event["messageId"]) == (
        "track", "Email Opened", "lead-7", "open-1")
    assert event["properties"] == {"campaign": "nov"}


def test_a_pixel_query_cannot_make_an_event_large():
    event = pixel_event(MultiDict(path="/" + "x" * 100_000, title="t" * 100_000), None, None, "v")

    assert len(orjson.dumps(event)) < 8_000


def test_a_forms_fields_are_its_properties_but_never_its_passwords_or_steering_fields():
    fields = MultiDict(email="ada@acme.io", password="hunter2", card_number="4111", _event="Demo Requested",
                       _redirect="/thanks", writeKey="k")
    event = form_event(fields, "https://www.example.com/demo", "Mozilla/5.0", "v-1")

    assert event["properties"] == {"email": "ada@acme.io"}
    assert (event["event"], event["anonymousId"], event["context"]["page"]["path"]) == ("Demo Requested", "v-1", "/demo")


@pytest.mark.parametrize(("referer", "redirect", "location"), [
    ("https://www.example.com/demo", "/thanks", "https://www.example.com/thanks"),
    ("https://www.example.com/demo", "https://www.example.com/done", "https://www.example.com/done"),
    ("https://www.example.com/demo", "https://evil.example/", "https://www.example.com/demo"),
    ("https://www.example.com/demo", "//evil.example/", "https://www.example.com/demo"),
    ("https://www.example.com/demo", None, "https://www.example.com/demo"),
    ("javascript:alert(1)", "/thanks", None),
    (None, "/thanks", None),
])
def test_a_form_redirects_only_back_to_its_own_site(referer, redirect, location):
    response = _back(referer, redirect)

    assert response.headers.get("Location") == location
    assert response.status == (303 if location else 200)


def test_the_native_form_is_the_segment_message_it_stands_for():
    assert from_native({"type": "page", "id": "m1", "user": "u1", "visitor": "v1", "at": "2026-11-02T09:00:00Z",
                        "path": "/pricing", "props": {"plan": "team"}}) == {
        "type": "page", "messageId": "m1", "userId": "u1", "anonymousId": "v1", "timestamp": "2026-11-02T09:00:00Z",
        "properties": {"plan": "team", "path": "/pricing"}}
    typo = from_native({"type": "page", "visitor": "v", "pth": "/"})
    assert isinstance(typo, Unreadable) and "pth" in typo.detail
