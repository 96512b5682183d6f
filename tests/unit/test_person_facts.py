"""Who the person is comes from identify traits, a form's person fields and group calls only.

A page's or a track's own properties describe the content or the action: a `Case Study Downloaded`
carrying the case study's title, its customer's company and industry once replaced the lead's job
title and dropped its decision-maker fit points (issue 23).
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from multidict import MultiDict

from scoring import LeadEvent, Signal, assess, interpret
from streams.collector.forms import FORM_PERSON_FIELDS, form_event
from streams.contracts.segment import decode_segment
from streams.devtools.simulator import plan_wave
from tests.unit.builders import T0, final_state, journey, model

IDENTIFY = {"type": "identify", "messageId": "i1", "userId": "u1", "timestamp": "2023-11-14T22:13:20Z",
            "traits": {"email": "dana@acme.com", "title": "VP Marketing", "company": "Initech",
                       "industry": "Software", "employees": 200, "country": "US"}}
CASE_STUDY = {"type": "track", "messageId": "t1", "userId": "u1", "event": "Case Study Downloaded",
              "timestamp": "2023-11-15T09:00:00Z",
              "properties": {"title": "How Acme doubled SQLs", "company": "Acme", "industry": "Retail",
                             "employees": 3, "country": "KP", "name": "Acme story"}}


def decoded(message: dict) -> LeadEvent:
    event = decode_segment(orjson.dumps(message), T0 + 86_400 * 2, 64 * 1024)
    assert isinstance(event, LeadEvent)
    return event


def signals_of(*messages: dict) -> list[Signal]:
    return [result for message in messages if isinstance(result := interpret(decoded(message), model()), Signal)]


def test_a_case_study_track_leaves_the_profile_and_fit_unchanged():
    before = final_state(journey(signals_of(IDENTIFY)))
    after = final_state(journey(signals_of(IDENTIFY, CASE_STUDY)))

    assert after.profile == before.profile
    assert after.profile["title"].value == "VP Marketing"
    at = T0 + 86_400
    assert assess(after, model(), at).fit == assess(before, model(), at).fit
    assert assess(after, model(), at).fit.score == 100
    assert after.tallies != before.tallies  # the download itself still counts, as interest


@pytest.mark.parametrize("event_type", ["track", "page", "screen"])
def test_no_person_field_of_a_page_or_track_property_becomes_a_profile_fact(event_type):
    message = {**CASE_STUDY, "type": event_type,
               "properties": {**CASE_STUDY["properties"], "job_title": "CEO", "company_name": "Acme",
                              "company": {"name": "Acme", "industry": "Retail"}, "address": {"country": "KP"}}}

    (signal,) = signals_of(message)

    assert dict(signal.profile) == {}


def test_the_email_of_whoever_acted_on_a_track_still_names_the_lead():
    (signal,) = signals_of({"type": "track", "messageId": "f1", "anonymousId": "v1", "event": "Demo Requested",
                            "properties": {"email": "ada@acme.com", "title": "Book a demo", "need": "yes"}})

    assert (signal.lead_id, dict(signal.profile)) == ("ada@acme.com", {"email": "ada@acme.com"})
    assert signal.answers["need"].value == "met"  # answers are the action's, and are kept


def test_context_traits_on_a_track_say_who_the_person_is():
    (signal,) = signals_of({**CASE_STUDY, "context": {"traits": {"title": "CTO", "company": "Initech"}}})

    assert (signal.profile["title"], signal.profile["company"]) == ("CTO", "Initech")


def test_a_forms_person_fields_become_the_visitors_traits_and_set_the_profile():
    fields = MultiDict(email="ada@acme.com", company="Initech", job_title="Head of Growth", country="US",
                       budget_confirmed="$50k", product="Enterprise")
    message = form_event(fields, "https://www.example.com/demo", "Mozilla/5.0", "v-1")

    (signal,) = signals_of({**message, "event": "Contact Form Submitted"})

    assert message["context"]["traits"] == {"email": "ada@acme.com", "company": "Initech",
                                            "job_title": "Head of Growth", "country": "US"}
    assert dict(signal.profile) == {"email": "ada@acme.com", "company": "Initech", "title": "Head of Growth",
                                    "country": "US"}
    assert signal.answers["budget"].value == "met"


def test_the_snippet_sends_the_same_person_fields_as_the_form_endpoint():
    snippet = (Path(__file__).parents[2] / "streams" / "collector" / "snippet.js").read_text("utf-8")
    listed = re.search(r"var PERSON = \[([^\]]*)\]", snippet)

    assert listed is not None
    assert set(re.findall(r'"([^"]+)"', listed.group(1))) == FORM_PERSON_FIELDS


def test_no_simulated_researcher_carries_a_content_title_as_their_job_title():
    planned = plan_wave(seed=7, leads=120, span_s=600.0, start=T0)
    titles = set()
    for event in planned:
        try:
            message = orjson.loads(event.value)
        except orjson.JSONDecodeError:
            continue  # the simulator's deliberately malformed noise
        result = interpret(decoded(message), model())
        if isinstance(result, Signal) and "title" in result.profile:
            titles.add(result.profile["title"])

    assert any(message_has_case_study(event.value) for event in planned)  # the case study is still downloaded
    assert titles and "How Acme doubled SQLs" not in titles


def message_has_case_study(raw: bytes) -> bool:
    return b"Case Study Downloaded" in raw
