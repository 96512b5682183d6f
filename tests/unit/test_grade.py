"""The letter grade: fit × engagement on the shipped grid, its hysteresis, its rungs in the model file,
and the grade a lead's changes carry."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import ModelError, Scores, parse_model
from scoring.grade import next_grade
from scoring.replay import replay
from tests.unit.builders import (
    HOUR, ICP_FIT, T0, changes, days, event, final_state, identify, journey, model, model_text, signal,
)

GRADE = model().grade  # shipped: fit B at 40 (back below 30), A at 70 (60); engagement 2 at 25 (15), 1 at 60 (45)


def scores(fit: float, engagement: float) -> Scores:
    return Scores(interest=engagement, intent=0.0, negative=0.0, fit=fit)


@pytest.mark.parametrize(("fit", "engagement", "grade"), [
    (100, 80, "A1"), (70, 60, "A1"), (70, 59.9, "A2"), (70, 25, "A2"), (70, 24.9, "A3"),
    (69.9, 60, "B1"), (40, 25, "B2"), (40, 0, "B3"),
    (39.9, 60, "C1"), (0, 25, "C2"), (0, 0, "C3"),
])
def test_a_new_lead_is_graded_on_the_shipped_grid(fit, engagement, grade):
    assert next_grade(None, scores(fit, engagement), GRADE) == grade


def test_the_digit_follows_engagement_with_negative_signals_subtracted():
    unsubscribed = Scores(interest=50.0, intent=20.0, negative=40.0, fit=80.0)  # engagement 30

    assert next_grade(None, unsubscribed, GRADE) == "A2"


def test_a_lead_hovering_on_a_boundary_keeps_its_grade():
    held = next_grade(None, scores(72, 62), GRADE)
    for fit, engagement in [(65, 50), (71, 61), (61, 46), (69, 59), (60, 45)]:
        held = next_grade(held, scores(fit, engagement), GRADE)
        assert held == "A1"  # above both demote thresholds all along: no flapping


def test_a_grade_falls_only_below_demote_and_climbs_back_only_at_promote():
    assert next_grade("A1", scores(59.9, 80), GRADE) == "B1"
    assert next_grade("A1", scores(80, 44.9), GRADE) == "A2"
    assert next_grade("B2", scores(65, 55), GRADE) == "B2"  # between the rungs: stays where it was
    assert next_grade("B2", scores(70, 60), GRADE) == "A1"
    assert next_grade("A1", scores(20, 5), GRADE) == "C3"  # far below both rungs: falls all the way
    assert next_grade("C3", scores(35, 20), GRADE) == "C3"
    assert next_grade("B2", scores(35, 20), GRADE) == "B2"


@settings(max_examples=200, deadline=None)
@given(held=st.sampled_from([None, *(f"{letter}{digit}" for letter in "ABC" for digit in "123")]),
       fit=st.floats(0, 100), engagement=st.floats(-50, 200))
def test_a_grade_is_always_on_the_grid_and_settles_after_one_step(held, fit, engagement):
    once = next_grade(held, scores(fit, engagement), GRADE)

    assert once[0] in "ABC" and once[1] in "123"
    assert next_grade(once, scores(fit, engagement), GRADE) == once


def test_every_change_of_a_journey_carries_the_grade_the_lead_then_holds():
    decisions = journey([
        identify(T0, "ada@acme.com", **ICP_FIT),
        signal("case_study_download", T0 + 60),
        signal("webinar_attended", T0 + 120),
        signal("demo_request", T0 + 180),
        signal("contact_form", T0 + 240),
    ])
    emitted = changes(decisions)

    assert emitted and all(change.grade == decision.state.grade
                           for decision in decisions for change in [decision.change] if change is not None)
    assert final_state(decisions).grade == "A1"  # fit 100, engagement some 10 + 20 + 30 + 15
    assert emitted[0].grade == "A3"  # identified with nothing done yet


def test_a_decayed_lead_is_graded_lower_at_its_next_change():
    decisions = journey([
        identify(T0, "ada@acme.com", **ICP_FIT),
        signal("demo_request", T0 + 60), signal("contact_form", T0 + 120),
        signal("webinar_attended", T0 + 180),
        signal("email_unsubscribe", T0 + days(60)),
    ])

    assert decisions[3].state.grade == "A1"
    assert final_state(decisions).grade == "A3"


def test_decay_and_revisits_carry_the_grade_of_their_time_with_its_hysteresis():
    run = replay([event("identify", T0, attributes={"email": "ada@acme.com", **ICP_FIT}),
                  event("track", T0 + HOUR, name="Demo Requested", attributes={}),
                  event("track", T0 + HOUR, name="Webinar Attended", attributes={}),
                  event("track", T0 + HOUR, name="Contact Form Submitted", attributes={})],
                 model(), until=T0 + days(200))

    # Warm at the demo (engagement 30: A2); the webinar and the form make it A1 but move no stage or
    # temperature, so no change says so. Cooling on day 18 at engagement 20 it is still A2 (a lead
    # graded afresh there would be A3: 20 is below the "2" rung's promote but above its demote);
    # left alone, its revisits find it A3.
    assert [(change.cause, change.grade) for change in run.changes] == [
        ("event", "A3"), ("event", "A2"), ("decay", "A2"), ("revisit", "A3"), ("revisit", "A3")]
    assert next_grade(None, run.changes[2].scores, GRADE) == "A3"
    assert run.states["lead-1"].grade == "A3"


def test_the_grade_rungs_come_from_the_model_file():
    strict = parse_model(model_text(('A = { promote = 70, demote = 60 }', 'A = { promote = 95, demote = 90 }')))

    assert next_grade(None, scores(80, 80), strict.grade) == "B1"


@pytest.mark.parametrize(("old", "new", "field"), [
    ('A = { promote = 70, demote = 60 }', 'A = { promote = 70, demote = 70 }', "grade.fit.A.demote"),
    ('A = { promote = 70, demote = 60 }', 'A = { promote = 35, demote = 25 }', "grade.fit.A"),
    ('A = { promote = 70, demote = 60 }', 'A = { promote = 170, demote = 60 }', "grade.fit.A"),
    ('"2" = { promote = 25, demote = 15 }', '"2" = { promote = 25 }', "grade.engagement.2.demote"),
    ('"2" = { promote = 25, demote = 15 }', '"3" = { promote = 25, demote = 15 }', "grade.engagement.3"),
    ('[grade.fit]', '[grade.fitness]', "grade.fitness"),
])
def test_a_bad_grade_rung_is_rejected_naming_its_field(old, new, field):
    with pytest.raises(ModelError) as raised:
        parse_model(model_text((old, new)), source="test.toml")

    assert f"{field}:" in str(raised.value)


def test_a_model_file_without_grade_rungs_grades_on_the_shipped_ones():
    text = model_text(('[grade.fit]\nA = { promote = 70, demote = 60 }\nB = { promote = 40, demote = 30 }\n', ''),
                      ('[grade.engagement]\n"1" = { promote = 60, demote = 45 }\n"2" = { promote = 25, demote = 15 }\n',
                       ''))

    assert parse_model(text).grade == GRADE
