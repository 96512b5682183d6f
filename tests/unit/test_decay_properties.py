"""Invariants of decay, caps, profile, answers and classification, checked over generated journeys and ladders."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from scoring import Component, Stage, Status, Temperature, apply, assess, scores_at
from scoring.engine import reclassify
from scoring.stages import QUALIFIED, STAGE_RANK, Rung, climb
from tests.unit.builders import BANT, T0, days, final_state, journey, meddic_model, model, signal

SCORED_KINDS = sorted(model().signals)
NEGATIVE_KINDS = [k for k in SCORED_KINDS if model().rule(k).component is Component.NEGATIVE]
# Kinds that only ever add points and can never put a lead out of market.
POSITIVE_KINDS = [k for k in SCORED_KINDS if k not in NEGATIVE_KINDS and k not in model().disqualify.signals
                  and k != "careers_view"]
TEMPERATURES = list(Temperature)
PROPERTIES = settings(max_examples=200, deadline=None)

kinds = st.sampled_from(SCORED_KINDS)
# Some times on a coarse grid so that equal event times (ties) are common, the rest anywhere in sixty days.
times = st.one_of(st.integers(0, 6).map(lambda n: T0 + days(10 * n)),
                  st.floats(min_value=T0, max_value=T0 + days(60), allow_nan=False))
profiles = st.fixed_dictionaries({}, optional={
    "email": st.sampled_from(["ada@acme.com", "ada@gmail.com", "spy@rivalscore.com", "kim@mit.edu", "bo@acme.io"]),
    "title": st.sampled_from(["VP Marketing", "Marketing Manager", "Engineer", "Intern"]),
    "employees": st.sampled_from([3, 40, 200, 9000, "50-200"]),
    "country": st.sampled_from(["US", "de", "KP", "BR"]),
    "industry": st.sampled_from(["Software", "Mining"]),
})
answer_sets = st.dictionaries(st.sampled_from([*BANT, "metrics", "champion"]),
                              st.sampled_from(["yes", "no", "unknown", "Q3", True, False]), max_size=3)


@st.composite
def signal_lists(draw, min_size=1, max_size=40, with_facts=True):
    """Distinct events (unique ids) of scored kinds, profile facts and answers, within sixty days, in any order."""
    kind_or_none = st.one_of(kinds, st.none()) if with_facts else kinds
    steps = draw(st.lists(st.tuples(kind_or_none, times,
                                    profiles if with_facts else st.just({}),
                                    answer_sets if with_facts else st.just({})),
                          min_size=min_size, max_size=max_size))
    return [signal(kind, at, event_id=f"evt-{index}", profile=facts, answers=answers)
            for index, (kind, at, facts, answers) in enumerate(steps)]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def closed_form(steps, at):
    """Σ points · 2^(−(at − t)/half_life) per kind, capped, then summed per component and for product."""
    per_kind = {}
    for s in steps:
        if s.kind is not None:
            per_kind[s.kind] = per_kind.get(s.kind, 0.0) + 2 ** (-(at - s.occurred_at) / model().half_life_of(s.kind))
    sums = dict.fromkeys([*Component, "product"], 0.0)
    for kind, decayed in per_kind.items():
        rule = model().rule(kind)
        points = rule.points * decayed if rule.cap is None else min(rule.points * decayed, rule.cap)
        sums[rule.component] += points
        if kind in model().qualification.product_signals:
            sums["product"] += points
    return sums


@PROPERTIES
@given(data=st.data(), offset=st.floats(min_value=0, max_value=days(90)))
def test_scores_profile_and_criteria_do_not_depend_on_arrival_order(data, offset):
    steps = data.draw(signal_lists())
    shuffled = data.draw(st.permutations(steps))
    one, other = final_state(journey(steps)), final_state(journey(shuffled))
    at = max(s.occurred_at for s in steps) + offset

    a, b = scores_at(one, model(), at), scores_at(other, model(), at)

    for component in ("interest", "intent", "negative", "product", "fit"):
        assert close(getattr(a, component), getattr(b, component)), component
    assert one.profile == other.profile
    assert one.answers == other.answers
    assert one.seen == other.seen
    for scoring_model in (model(), meddic_model()):
        first, second = assess(one, scoring_model, at), assess(other, scoring_model, at)
        assert first.criteria == second.criteria
        assert first.disqualified_by == second.disqualified_by
        assert first.fit == second.fit


@PROPERTIES
@given(steps=signal_lists(with_facts=False))
def test_capped_decayed_scores_equal_the_closed_form_sum(steps):
    at = max(s.occurred_at for s in steps) + days(1)

    held = scores_at(final_state(journey(steps)), model(), at)

    expected = closed_form(steps, at)
    assert close(held.interest, expected[Component.INTEREST])
    assert close(held.intent, expected[Component.INTENT])
    assert close(held.negative, expected[Component.NEGATIVE])
    assert close(held.product, expected["product"])


@PROPERTIES
@given(steps=signal_lists(), t1=times, later=st.floats(min_value=1e-3, max_value=days(120)))
def test_decay_never_increases_any_component_and_never_touches_fit(steps, t1, later):
    state = final_state(journey(steps))

    earlier_scores = scores_at(state, model(), t1)
    later_scores = scores_at(state, model(), t1 + later)

    assert later_scores.interest <= earlier_scores.interest
    assert later_scores.intent <= earlier_scores.intent
    assert later_scores.negative <= earlier_scores.negative
    assert later_scores.product <= earlier_scores.product
    assert later_scores.fit == earlier_scores.fit


def held_points(state, kind, at):
    """The kind's uncapped points held by ``state``, seen at ``at``."""
    tally = state.tallies.get(kind)
    if tally is None:
        return 0.0
    return model().rule(kind).points * tally.decayed * 2 ** (-(at - state.as_of) / model().half_life_of(kind))


def capped(kind, points):
    cap = model().rule(kind).cap
    return points if cap is None else min(points, cap)


# Found by a random run: the late review re-derives the lead, and its capped views sum a rounding lower.
_VIEWS_THEN_A_REVIEW = [signal(kind, at, event_id=f"evt-{n}") for n, (kind, at) in enumerate(
    [("blog_view", T0)] * 2 + [(None, T0)] + [("blog_view", T0)] * 5 + [("blog_view", T0 + days(10)), (None, T0)]
    + [("blog_view", T0)] * 7 + [("positive_review", T0 + days(50))])]


@PROPERTIES
@given(steps=signal_lists(max_size=20), kind=st.sampled_from(POSITIVE_KINDS), at=times)
@example(steps=_VIEWS_THEN_A_REVIEW, kind="positive_review", at=T0)
def test_a_positive_signal_adds_exactly_its_capped_points_at_its_own_time(steps, kind, at):
    before = final_state(journey(steps))
    after = apply(before, signal(kind, at, event_id="the-new-one"), model()).state
    seen_at = max(at, before.as_of)
    was, now = scores_at(before, model(), seen_at), scores_at(after, model(), seen_at)

    held = held_points(before, kind, seen_at)
    added = model().rule(kind).points * 2 ** (-(seen_at - at) / model().half_life_of(kind))
    # A late one re-derives the lead in event time, summing the same terms in another order: a signal
    # that adds nothing under its cap can leave the sum a rounding below what it was.
    assert now.engagement >= was.engagement - 1e-9 * max(1.0, abs(was.engagement))
    assert now.engagement - was.engagement == pytest.approx(capped(kind, held + added) - capped(kind, held),
                                                            rel=1e-9, abs=1e-9)
    assert now.negative == pytest.approx(was.negative, rel=1e-12, abs=1e-12)


@PROPERTIES
@given(steps=signal_lists(max_size=20), kind=st.sampled_from(NEGATIVE_KINDS), at=times)
def test_a_negative_signal_never_raises_engagement_and_leaves_interest_and_intent_alone(steps, kind, at):
    before = final_state(journey(steps))
    after = apply(before, signal(kind, at, event_id="the-new-one"), model()).state
    seen_at = max(at, before.as_of)
    was, now = scores_at(before, model(), seen_at), scores_at(after, model(), seen_at)

    # A late one re-derives the lead in event time (scoring.arrival), summing the same terms in
    # another order: equal up to rounding.
    assert now.engagement <= was.engagement + 1e-9 * max(1.0, abs(was.engagement))
    assert (now.interest, now.intent, now.product) == pytest.approx((was.interest, was.intent, was.product))


@PROPERTIES
@given(steps=signal_lists())
def test_every_decision_respects_the_qualification_rules(steps):
    for decision in journey(steps):
        state = decision.state
        assessment = assess(state, model(), state.as_of)
        if state.stage in QUALIFIED:
            assert not assessment.disqualified_by
        if state.stage is Stage.MQL:
            assert assessment.gates.mql and state.levels.mql
        if state.stage is Stage.PQL:
            assert assessment.gates.pql and state.levels.pql
        if state.stage is Stage.SQL:  # no sales feedback here: every criterion confirmed, fit known and good
            assert assessment.all_criteria_met and assessment.scores.fit >= model().fit.mql_minimum
        if state.stage is Stage.DISQUALIFIED:
            assert assessment.disqualified_by and state.temperature is Temperature.COLD
        if state.temperature is Temperature.HOT:
            assert state.levels.sql and assessment.all_criteria_met and assessment.gates.hot
            assert assessment.scores.interest >= model().qualification.ladders.hot.demote
        if not state.identified:
            assert state.stage is Stage.NEW
        if decision.change is not None:
            assert tuple(decision.change.criteria) == BANT
            assert decision.change.to_stage is state.stage and decision.change.to_temperature is state.temperature


@PROPERTIES
@given(steps=signal_lists())
def test_reclassifying_at_the_same_assessment_keeps_the_levels_and_temperature(steps):
    state = final_state(journey(steps))

    again = reclassify(state, assess(state, model(), state.as_of), model())

    assert again.levels == state.levels
    assert again.temperature is state.temperature


def rank(stage: Stage) -> int:
    return STAGE_RANK.get(stage, -1)  # disqualified below everything: lifting it is a move up


@PROPERTIES
@given(steps=signal_lists(max_size=30), kind=st.sampled_from(POSITIVE_KINDS))
def test_one_more_positive_event_at_the_leads_latest_time_never_lowers_its_levels_stage_or_temperature(steps, kind):
    before = final_state(journey(steps))

    after = apply(before, signal(kind, before.as_of, event_id="the-new-one"), model()).state

    for ladder in ("mql", "sql", "pql", "warm"):
        assert getattr(after.levels, ladder) >= getattr(before.levels, ladder)
    assert TEMPERATURES.index(after.temperature) >= TEMPERATURES.index(before.temperature)
    assert rank(after.stage) >= rank(before.stage)
    assert after.stage is not Stage.DISQUALIFIED or before.stage is Stage.DISQUALIFIED


# -- hysteresis ------------------------------------------------------------------------------

thresholds = st.floats(min_value=0, max_value=1_000, allow_nan=False, allow_infinity=False)
gaps = st.floats(min_value=0.01, max_value=500)


@st.composite
def ladders(draw):
    """Two rungs as a ladder may have them: demote < promote, the upper rung above the lower."""
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
def test_climbing_twice_at_the_same_score_is_climbing_once(rungs, level, score):
    once = climb(level, score, rungs)

    assert climb(once, score, rungs) == once


@PROPERTIES
@given(rungs=ladders(), level=st.integers(0, 2), score=st.floats(0, 3_000), points=st.floats(0, 3_000))
def test_adding_points_never_moves_a_lead_down(rungs, level, score, points):
    settled = climb(level, score, rungs)

    assert climb(settled, score + points, rungs) >= settled
    assert climb(level, score + points, rungs) >= climb(level, score, rungs)


def test_the_shipped_ladders_are_ones_the_hysteresis_properties_cover():
    ladders_ = model().qualification.ladders
    for name in ("mql", "sql", "pql", "warm"):
        rung = getattr(ladders_, name)
        assert 0 <= rung.demote < rung.promote, name
    assert [t.value for t in TEMPERATURES] == ["cold", "warm", "hot"]
    assert sorted(STAGE_RANK, key=STAGE_RANK.get) == [Stage.NEW, Stage.IQL, Stage.RECYCLED, Stage.MQL, Stage.PQL,
                                                      Stage.SQL]
    assert STAGE_RANK[Stage.RECYCLED] == STAGE_RANK[Stage.IQL]
    assert Stage.DISQUALIFIED not in STAGE_RANK
    assert {s.value for s in Status} == {"met", "not_met", "unknown"}


@PROPERTIES
@given(steps=signal_lists())
def test_the_assessment_a_decision_carries_is_the_one_its_state_gets_assessed_afresh(steps):
    from scoring import explain
    from scoring.account_members import account_member

    for decision in journey(steps):
        if decision.assessment is None:
            continue
        explain._last_assessed = (None,) * len(explain._last_assessed)  # no memo: assessed from scratch
        state = decision.state
        assert decision.assessment == assess(state, model(), state.as_of)
        assert account_member(state, "evt", model(), decision.assessment) == account_member(state, "evt", model())
