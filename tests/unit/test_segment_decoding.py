"""Decoding untrusted Segment messages: every failure is a rejection with a reason, never a crash."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import EventType, LeadEvent, interpret, load_model
from streams.contracts.segment import (
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_TEXT,
    MAX_ATTRIBUTES,
    MAX_CLOCK_SKEW_S,
    RejectReason,
    Rejection,
    decode_segment,
)

EVENT_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc).timestamp()
RECEIVED = EVENT_TIME + 3600.0  # the broker got it an hour later
LIMIT = 32 * 1024


def decode(message: object) -> LeadEvent | Rejection:
    raw = message if isinstance(message, bytes) else orjson.dumps(message)
    return decode_segment(raw, RECEIVED, LIMIT)


def test_a_track_message_decodes_into_a_lead_event_keyed_by_user_id():
    event = decode({"type": "track", "messageId": "m1", "userId": "u1", "anonymousId": "a1",
                    "event": "Demo Requested", "timestamp": "2026-11-02T09:00:00Z",
                    "context": {"userAgent": "Mozilla/5.0", "traits": {"email": "Dana@Acme.io"}}})
    assert isinstance(event, LeadEvent)
    assert (event.event_id, event.lead_id, event.anonymous, event.type, event.name) == (
        "m1", "u1", False, EventType.TRACK, "Demo Requested")
    assert event.attributes["email"] == "Dana@Acme.io"  # kept as sent: interpret() normalises it
    assert event.occurred_at == EVENT_TIME


def test_an_anonymous_page_view_takes_its_path_from_the_url_when_no_path_is_given():
    event = decode({"type": "page", "messageId": "m2", "anonymousId": "v1",
                    "properties": {"url": "https://example.com/pricing?plan=team"}})
    assert isinstance(event, LeadEvent)
    # An anonymous event's lead id is its visitor id: its history is held per visitor until identify.
    assert (event.lead_id, event.anonymous, event.path, event.visitor_id) == ("v1", True, "/pricing", None)


def test_a_page_title_is_not_taken_for_the_persons_job_title():
    event = decode({"type": "page", "messageId": "m3", "userId": "u1",
                    "properties": {"path": "/integrations", "title": "Integrations", "name": "Docs",
                                   "plan": "team"},
                    "context": {"traits": {"title": "VP Marketing"}}})
    assert isinstance(event, LeadEvent)
    signal = interpret(event, load_model())
    assert signal.profile["title"] == "VP Marketing"  # the person's, from traits
    assert "name" not in event.attributes and event.attributes["plan"] == "team"
    bare = decode({"type": "page", "messageId": "m4", "userId": "u1", "properties": {"title": "Pricing"}})
    assert "title" not in interpret(bare, load_model()).profile


def test_an_identify_carrying_both_ids_names_the_lead_and_the_visitor_it_links():
    event = decode({"type": "identify", "messageId": "i1", "userId": "u1", "anonymousId": "v1",
                    "traits": {"email": "ada@acme.io"}})
    assert isinstance(event, LeadEvent)
    assert (event.lead_id, event.anonymous, event.visitor_id) == ("u1", False, "v1")


@pytest.mark.parametrize("where", ["traits", "properties"])
def test_an_anonymous_identify_or_form_giving_an_email_names_the_lead_by_that_email(where):
    event_type = "identify" if where == "traits" else "track"
    event = decode({"type": event_type, "messageId": "f1", "anonymousId": "v9", "event": "Contact Form Submitted",
                    where: {"email": " Ada@Acme.IO "}})
    assert isinstance(event, LeadEvent)
    assert (event.lead_id, event.anonymous, event.visitor_id) == ("ada@acme.io", False, "v9")


def test_an_anonymous_page_view_with_an_email_property_stays_anonymous():
    event = decode({"type": "page", "messageId": "p1", "anonymousId": "v9", "properties": {"email": "ada@acme.io"}})
    assert isinstance(event, LeadEvent)
    assert (event.lead_id, event.anonymous) == ("v9", True)


def test_an_alias_links_its_previous_id_to_the_user_id():
    event = decode({"type": "alias", "messageId": "a1", "userId": "u1", "previousId": "v1"})
    assert isinstance(event, LeadEvent)
    assert (event.lead_id, event.anonymous, event.visitor_id) == ("u1", False, "v1")


def test_an_alias_without_a_user_id_is_rejected():
    assert decode({"type": "alias", "messageId": "a2", "previousId": "v1", "anonymousId": "v1"}) == Rejection(
        RejectReason.MISSING_IDENTITY, "alias without a userId")


def test_a_missing_timestamp_falls_back_to_the_broker_time_and_a_future_one_is_clamped():
    no_time = decode({"type": "page", "messageId": "m3", "userId": "u"})
    future = decode({"type": "page", "messageId": "m4", "userId": "u", "timestamp": "2099-01-01T00:00:00Z"})
    assert isinstance(no_time, LeadEvent) and no_time.occurred_at == RECEIVED
    assert isinstance(future, LeadEvent) and future.occurred_at == RECEIVED + MAX_CLOCK_SKEW_S


def test_a_message_without_an_id_gets_a_stable_id_from_its_bytes():
    message = {"type": "page", "userId": "u", "timestamp": "2026-11-02T09:00:00Z"}
    first, again = decode(message), decode(message)
    assert isinstance(first, LeadEvent) and isinstance(again, LeadEvent)
    assert first.event_id.startswith("derived:") and first.event_id == again.event_id


def test_do_not_track_and_refused_consent_are_marked():
    dnt = decode({"type": "page", "messageId": "m5", "userId": "u", "context": {"dnt": True}})
    refused = decode({"type": "page", "messageId": "m6", "userId": "u", "properties": {"consent": False}})
    assert isinstance(dnt, LeadEvent) and not dnt.consent
    assert isinstance(refused, LeadEvent) and not refused.consent


def test_traits_and_properties_become_flat_scalar_attributes():
    event = decode({"type": "identify", "messageId": "m7", "userId": "u",
                    "traits": {"email": "ada@acme.com", "employees": 200, "vip": True,
                               "company": {"name": "Acme", "industry": "Software", "tags": ["a", "b"]},
                               "address": {"country": "US", "geo": {"lat": 1.0}}, "nothing": None}})
    assert isinstance(event, LeadEvent)
    assert dict(event.attributes) == {"email": "ada@acme.com", "employees": 200, "vip": True,
                                      "company.name": "Acme", "company.industry": "Software",
                                      "address.country": "US"}


def test_criteria_answers_in_properties_arrive_as_criteria_attributes():
    event = decode({"type": "track", "messageId": "m8", "userId": "u", "event": "Form Submitted",
                    "properties": {"criteria": {"budget": "met", "timeline": "Q3"}, "has_budget": False}})
    assert isinstance(event, LeadEvent)
    assert event.attributes["criteria.budget"] == "met"
    assert event.attributes["criteria.timeline"] == "Q3"
    assert event.attributes["has_budget"] is False


def test_traits_win_over_context_traits_which_win_over_properties():
    event = decode({"type": "identify", "messageId": "m9", "userId": "u",
                    "properties": {"title": "from properties", "country": "FR", "industry": "Retail"},
                    "context": {"traits": {"title": "from context", "country": "DE"}},
                    "traits": {"title": "from traits"}})
    assert isinstance(event, LeadEvent)
    assert (event.attributes["title"], event.attributes["country"], event.attributes["industry"]) == (
        "from traits", "DE", "Retail")


def test_attribute_names_and_texts_are_truncated():
    event = decode({"type": "identify", "messageId": "m10", "userId": "u",
                    "traits": {"n" * 100: "x" * 1000}})
    assert isinstance(event, LeadEvent)
    ((name, value),) = event.attributes.items()
    assert (len(name), len(value)) == (MAX_ATTRIBUTE_NAME, MAX_ATTRIBUTE_TEXT)


def test_many_top_level_attributes_are_bounded():
    event = decode({"type": "identify", "messageId": "m11", "userId": "u",
                    "traits": {f"t{index}": index for index in range(500)}})
    assert isinstance(event, LeadEvent)
    assert len(event.attributes) == MAX_ATTRIBUTES


def test_many_attributes_in_one_nested_object_are_bounded_too():
    event = decode({"type": "identify", "messageId": "m12", "userId": "u",
                    "traits": {"company": {f"t{index}": index for index in range(500)}}})
    assert isinstance(event, LeadEvent)
    assert len(event.attributes) <= MAX_ATTRIBUTES


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"{nope", RejectReason.MALFORMED_JSON),
        (b"\xff\xfe\xfd", RejectReason.MALFORMED_JSON),
        (b"[1, 2, 3]", RejectReason.NOT_AN_OBJECT),
        (b"[" * 5000 + b"]" * 5000, RejectReason.MALFORMED_JSON),
        ({"type": "purchase", "userId": "u"}, RejectReason.UNKNOWN_TYPE),
        ({"messageId": "x", "userId": "u"}, RejectReason.UNKNOWN_TYPE),
        ({"type": "page", "messageId": "x"}, RejectReason.MISSING_IDENTITY),
        ({"type": "page", "userId": "", "anonymousId": ""}, RejectReason.MISSING_IDENTITY),
        ({"type": "track", "userId": "u"}, RejectReason.INVALID_FIELD),
        ({"type": "page", "userId": {"id": 1}}, RejectReason.INVALID_FIELD),
        ({"type": "page", "userId": "u", "timestamp": "yesterday"}, RejectReason.INVALID_FIELD),
        # Valid ISO 8601, but before year 1 once in UTC: no datetime (and no change record) can hold it.
        ({"type": "page", "userId": "u", "timestamp": "0001-01-01T00:00:00+14:00"}, RejectReason.INVALID_FIELD),
        ({"type": "page", "userId": "u", "properties": ["not", "an", "object"]}, RejectReason.INVALID_FIELD),
        ({"type": "page", "userId": "u", "properties": {"blob": "x" * LIMIT}}, RejectReason.OVERSIZED),
    ],
)
def test_unreadable_messages_are_rejected_with_a_reason(message: object, reason: RejectReason):
    outcome = decode(message)
    assert isinstance(outcome, Rejection)
    assert outcome.reason is reason
    assert outcome.detail


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
segment_keys = st.sampled_from(["type", "messageId", "userId", "anonymousId", "timestamp", "event",
                                "properties", "traits", "context", "name"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(segment_keys, json_values | st.sampled_from(["page", "track", "identify"]), max_size=8))
def test_any_json_object_decodes_or_is_rejected_but_never_raises(message: dict):
    assert isinstance(decode(message), LeadEvent | Rejection)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_rejected_but_never_raise(raw: bytes):
    assert isinstance(decode_segment(raw, RECEIVED, LIMIT), LeadEvent | Rejection)
