"""The demotion time: when a rung the lead stands on gives way, found without scanning time."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scoring import scores_at
from scoring.crossing import Term, _all_terms, _bisect, _bisection, _total, demotion_due_by, next_demotion
from tests.unit.builders import T0, days, final_state, journey, model, signal
from tests.unit.test_decay_properties import POSITIVE_KINDS, signal_lists

ladders = model().qualification.ladders
# Without negative signals every measure only falls as time passes, so the crossing is unique.
positive_journeys = st.lists(
    st.tuples(st.sampled_from(POSITIVE_KINDS), st.floats(min_value=T0, max_value=T0 + days(30))),
    min_size=1, max_size=30,
).map(lambda steps: [signal(kind, at, event_id=f"evt-{n}") for n, (kind, at) in enumerate(steps)])


def below_a_held_rung(state, at):
    scores = scores_at(state, model(), at)
    held = ((state.levels.mql, scores.interest, ladders.mql), (state.levels.sql, scores.intent, ladders.sql),
            (state.levels.pql, scores.product, ladders.pql), (state.levels.warm, scores.engagement, ladders.warm),
            (state.levels.hot, scores.interest, ladders.hot))
    return any(level and score < rung.demote for level, score, rung in held)


@settings(max_examples=150, deadline=None)
@given(positive_journeys)
def test_a_lead_on_a_rung_falls_off_it_at_its_demotion_time_and_not_before(steps):
    state = final_state(journey(steps))
    due = next_demotion(state, model())
    assume(due is not None)

    assert due >= state.as_of
    assert below_a_held_rung(state, due + 0.001)
    if due > state.as_of:
        assert not below_a_held_rung(state, due - 0.01)


def test_a_lead_on_no_rung_has_no_demotion_due():
    state = final_state(journey([signal("page_view", T0)]))

    assert not any((state.levels.mql, state.levels.sql, state.levels.pql, state.levels.warm))
    assert next_demotion(state, model()) is None


fading_terms = st.lists(
    st.builds(Term, weight=st.floats(min_value=0.01, max_value=500.0),
              half_life_s=st.sampled_from([days(3), days(7), days(14), days(30), 3_600.0, 60.0]),
              cap=st.none() | st.floats(min_value=0.5, max_value=60.0)),
    min_size=1, max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(fading_terms, st.floats(min_value=0.01, max_value=200.0))
def test_the_bracketed_bisection_lands_on_the_same_float_as_the_full_one(parts, threshold):
    assume(_total(parts, 0.0) >= threshold)

    assert _bisect(parts, threshold) == _bisection(lambda elapsed: _total(parts, elapsed) >= threshold)


@settings(max_examples=200, deadline=None)
@given(positive_journeys)
def test_demotion_times_of_real_journeys_match_the_full_bisection(steps):
    state = final_state(journey(steps))
    for parts in _all_terms(state, model()):
        for threshold in (15.0, 20.0, 45.0):
            if parts and _total(parts, 0.0) >= threshold:
                assert _bisect(parts, threshold) == _bisection(lambda elapsed: _total(parts, elapsed) >= threshold)


@settings(max_examples=150, deadline=None)
@given(steps=signal_lists(max_size=25), gap=st.one_of(st.floats(min_value=0, max_value=days(60)),
                                                       st.sampled_from([0.0, days(7), days(14)])))
def test_a_demotion_due_by_a_time_is_the_next_demotion_exactly_when_that_falls_by_then(steps, gap):
    """Replaying a journal asks this before each input; it skips the search only where it cannot matter."""
    state = final_state(journey(steps))
    now = state.as_of + gap
    due = next_demotion(state, model())

    assert demotion_due_by(state, model(), now) == (due if due is not None and due <= now else None)
