"""Invariants of decay and classification, checked over generated journeys and ladders."""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import pytest

from scoring import Component, Stage, Temperature, apply, scores_at
from scoring.stages import (
    STAGE_ORDER,
    TEMPERATURE_ORDER,
    Rung,
    classify_stage,
    classify_temperature,
    climb,
)
from tests.unit.builders import T0, days, final_state, journey, model, signal

SCORED_KINDS = sorted(model().signals, key=lambda kind: kind.value)
PROPERTIES = settings(max_examples=200, deadline=None)

kinds = st.sampled_from(SCORED_KINDS)
times = st.floats(min_value=T0, max_value=T0 + days(60), allow_nan=False)


@st.composite
def signal_lists(draw, min_size=1, max_size=40):
    """Distinct events (unique ids) of scored kinds, at times within sixty days, in any order."""
    steps = draw(st.lists(st.tuples(kinds, times), min_size=min_size, max_size=max_size))
    return [signal(kind, at, event_id=f"evt-{index}") for index, (kind, at) in enumerate(steps)]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@PROPERTIES
@given(data=st.data(), offset=st.floats(min_value=0, max_value=days(90)))
def test_decayed_scores_do_not_depend_on_arrival_order(data, offset):
    steps = data.draw(signal_lists())
    shuffled = data.draw(st.permutations(steps))
    at = max(s.occurred_at for s in steps) + offset

    one = scores_at(final_state(journey(steps)), model(), at)
    other = scores_at(final_state(journey(shuffled)), model(), at)

    assert close(one.interest, other.interest)
    assert close(one.intent, other.intent)


@PROPERTIES
@given(steps=signal_lists())
def test_decayed_scores_equal_the_closed_form_sum(steps):
    at = max(s.occurred_at for s in steps) + days(1)

    held = scores_at(final_state(journey(steps)), model(), at)

    expected = {component: 0.0 for component in model().half_life_seconds}
    for s in steps:
        rule = model().rule(s.kind)
        expected[rule.component] += rule.points * 2 ** (-(at - s.occurred_at) / model().half_life_of(s.kind))
    assert close(held.interest, expected[Component.INTEREST])
    assert close(held.intent, expected[Component.INTENT])


@PROPERTIES
@given(steps=signal_lists(), t1=times, later=st.floats(min_value=1e-3, max_value=days(120)))
def test_decay_never_increases_any_component(steps, t1, later):
    state = final_state(journey(steps))

    earlier_scores = scores_at(state, model(), t1)
    later_scores = scores_at(state, model(), t1 + later)

    assert later_scores.interest <= earlier_scores.interest
    assert later_scores.intent <= earlier_scores.intent


@PROPERTIES
@given(steps=signal_lists(max_size=20), kind=kinds, at=times)
def test_a_signal_never_lowers_the_total_score_at_its_own_time(steps, kind, at):
    before = final_state(journey(steps))
    after = apply(before, signal(kind, at, event_id="the-new-one"), model()).state
    seen_at = max(at, before.as_of)

    assert scores_at(after, model(), seen_at).total >= scores_at(before, model(), seen_at).total
    added = model().rule(kind).points * 2 ** (-(seen_at - at) / model().half_life_of(kind))
    expected = scores_at(before, model(), seen_at).total + added
    assert scores_at(after, model(), seen_at).total == pytest.approx(expected, rel=1e-9, abs=1e-12)


# -- hysteresis ------------------------------------------------------------------------------

thresholds = st.floats(min_value=0, max_value=1_000, allow_nan=False, allow_infinity=False)


gaps = st.floats(min_value=0.01, max_value=500)


@st.composite
def ladders(draw):
    """Two rungs as the model file accepts them: demote < promote, the upper rung above the lower."""
    lower_demote = draw(thresholds)
    lower = Rung(promote=lower_demote + draw(gaps), demote=lower_demote)
    upper_demote = lower.demote + draw(gaps)  # may sit below or above the lower promote
    upper = Rung(promote=max(lower.promote, upper_demote) + draw(gaps), demote=upper_demote)
    assume(lower.demote < lower.promote < upper.promote and lower.demote < upper.demote < upper.promote)
    return (lower, upper)


@PROPERTIES
@given(rungs=ladders(), rung=st.sampled_from([0, 1]), share=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_a_score_between_demote_and_promote_keeps_the_level_on_either_side_of_the_rung(rungs, rung, share):
    demote, promote = rungs[rung].demote, rungs[rung].promote
    score = demote + share * (promote - demote)
    assume(demote <= score < promote)

    assert climb(rung, score, rungs) == rung  # below the rung: not enough to climb it
    assert climb(rung + 1, score, rungs) == rung + 1  # on the rung: not low enough to fall off


@PROPERTIES
@given(rungs=ladders(), level=st.integers(0, 2), score=st.floats(0, 3_000))
def test_classifying_twice_at_the_same_score_is_classifying_once(rungs, level, score):
    once = climb(level, score, rungs)
    assert climb(once, score, rungs) == once

    temperature = classify_temperature(TEMPERATURE_ORDER[level], score, rungs)
    assert classify_temperature(temperature, score, rungs) is temperature

    stage = classify_stage(STAGE_ORDER[level + 1], score, True, rungs)
    assert classify_stage(stage, score, True, rungs) is stage


@PROPERTIES
@given(rungs=ladders(), level=st.integers(0, 2), score=st.floats(0, 3_000), points=st.floats(0, 3_000))
def test_adding_points_never_moves_a_lead_down(rungs, level, score, points):
    settled = climb(level, score, rungs)

    assert climb(settled, score + points, rungs) >= settled
    assert climb(level, score + points, rungs) >= climb(level, score, rungs)


@PROPERTIES
@given(steps=signal_lists(max_size=30), kind=kinds)
def test_one_more_event_at_the_leads_latest_time_never_lowers_its_stage_or_temperature(steps, kind):
    before = final_state(journey(steps))

    after = apply(before, signal(kind, before.as_of, event_id="the-new-one"), model()).state

    assert TEMPERATURE_ORDER.index(after.temperature) >= TEMPERATURE_ORDER.index(before.temperature)
    assert STAGE_ORDER.index(after.stage) >= STAGE_ORDER.index(before.stage)


def test_the_shipped_ladders_are_ones_the_hysteresis_properties_cover():
    for rungs in (model().temperature_rungs, model().stage_rungs):
        lower, upper = rungs
        assert lower.demote < lower.promote < upper.promote
        assert lower.demote < upper.demote < upper.promote
    assert [t.value for t in TEMPERATURE_ORDER] == ["cold", "warm", "hot"]
    assert [s.value for s in STAGE_ORDER] == ["new", "iql", "mql", "sql"]
    assert Stage.SQL is STAGE_ORDER[-1] and Temperature.HOT is TEMPERATURE_ORDER[-1]
