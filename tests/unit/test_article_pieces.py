"""The source articles' pieces the model lacked: MEDDPICC with competition, and dwell time as interest."""

from __future__ import annotations

import pytest

from scoring import Ignored, IgnoreReason, Signal, Status, assess, interpret
from scoring.explain import contributions_at
from scoring.model_loading import parse_model
from tests.unit.builders import (
    T0,
    event,
    final_state,
    journey,
    model,
    model_text,
    model_with,
)
from tests.unit.test_model import rejected

MEDDPICC = model_with(('framework = "bant"', 'framework = "meddpicc"'))


def test_meddpicc_asks_about_paper_process_and_competition_and_reads_their_form_fields():
    signal = interpret(event("track", name="Qualification Form Submitted",
                             attributes={"alternatives_considered": "HubSpot and Marketo", "procurement_process": "no"}),
                       MEDDPICC)

    assert isinstance(signal, Signal)
    criteria = assess(final_state(journey([signal], MEDDPICC)), MEDDPICC, T0).criteria
    assert (criteria["competition"], criteria["paper_process"]) == (Status.MET, Status.NOT_MET)
    assert criteria["champion"] is Status.UNKNOWN


def test_naming_no_alternative_or_hedging_about_them_never_meets_competition():
    for answer, status in (("none", Status.NOT_MET), ("not sure yet", Status.UNKNOWN), ("Salesforce", Status.MET)):
        signal = interpret(event("track", name="Form", attributes={"criteria.competition": answer}), MEDDPICC)
        assert isinstance(signal, Signal) and signal.answers["competition"] is status


def dwell(seconds: object, event_type: str = "page", **fields) -> Signal | Ignored:
    return interpret(event(event_type, attributes={"dwell_seconds": seconds}, **fields), model())


@pytest.mark.parametrize("event_type", ["page", "screen"])
def test_a_page_read_for_the_dwell_minimum_counts_as_dwell(event_type):
    assert dwell(45, event_type, path="/blog/intent").kind == "dwell"
    assert dwell(30.0, event_type).kind == "dwell"


def test_a_page_leave_track_counts_dwell_too():
    assert interpret(event("track", name="Page Left", attributes={"dwell_seconds": 120}), model()).kind == (
        "dwell")
    assert interpret(event("track", name="Page Left"), model()) == Ignored(IgnoreReason.BRIEF_VISIT)


@pytest.mark.parametrize("seconds", [3, 29.9, "long", True, -5])
def test_a_glance_or_a_duration_that_is_no_number_is_a_brief_visit(seconds):
    assert dwell(seconds) == Ignored(IgnoreReason.BRIEF_VISIT)


def test_dwell_is_interest_and_capped_however_long_and_often_a_lead_reads():
    reads = [dwell(600, at=T0 + minute * 60, event_id=f"d{minute}") for minute in range(40)]
    state = final_state(journey(reads))

    (contribution,) = contributions_at(state, model(), T0 + 2400)
    assert contribution.kind == "dwell"
    assert contribution.points_now == pytest.approx(15.0)  # the cap: 40 long reads never outscore a demo
    assert assess(state, model(), T0 + 2400).scores.interest == pytest.approx(15.0)


def test_a_model_file_without_dwell_settings_scores_dwell_reports_as_page_views():
    without = parse_model(model_text(('dwell_signal = "dwell"\ndwell_minimum_seconds = 30\n', '')), "old.toml")

    assert without.dwell is None
    assert interpret(event("page", path="/pricing", attributes={"dwell_seconds": 5}), without).kind == (
        "pricing_view")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("dwell_minimum_seconds = 30", "dwell_minimum_seconds = 0", "page_views.dwell_minimum_seconds: expected a number > 0"),
    ('dwell_signal = "dwell"', 'dwell_signal = "pricing_view"', "page_views.dwell_signal: dwell is engagement"),
    ('dwell_signal = "dwell"\n', '', "page_views.dwell_signal: missing"),
])
def test_bad_dwell_settings_are_rejected_naming_the_field(old, new, message):
    assert message in rejected(model_text((old, new)))
