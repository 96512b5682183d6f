"""The demotion time: when a rung the lead stands on gives way, found without scanning time."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scoring import scores_at
from scoring.crossing import next_demotion
from tests.unit.builders import T0, days, final_state, journey, model, signal
from tests.unit.test_decay_properties import POSITIVE_KINDS

ladders = model().qualification.ladders
# Without negative signals every measure only falls as time passes, so the crossing is unique.
positive_journeys = st.lists(
    st.tuples(st.sampled_from(POSITIVE_KINDS), st.floats(min_value=T0, max_value=T0 + days(30))),
    min_size=1, max_size=30,
).map(lambda steps: [signal(kind, at, event_id=f"evt-{n}") for n, (kind, at) in enumerate(steps)])


def below_a_held_rung(state, at):
    scores = scores_at(state, model(), at)
    held = ((state.levels.mql, scores.interest, ladders.mql), (state.levels.sql, scores.intent, ladders.sql),
            (state.levels.pql, scores.product, ladders.pql), (state.levels.warm, scores.engagement, ladders.warm))
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
