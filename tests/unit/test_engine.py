"""apply(): one signal at a time, the held state and the qualification changes it decides."""

from __future__ import annotations

import math
from dataclasses import replace
from types import MappingProxyType

import pytest

from scoring import Component, Stage, Temperature, scores_at, top_contributions
from scoring.model import SignalRule
from tests.unit.builders import (
    BANT_MET,
    HOUR,
    ICP_FIT,
    T0,
    answer,
    changes,
    days,
    final_state,
    identify,
    journey,
    model,
    scripted_journey,
    signal,
    transitions,
)

# -- qualification changes ------------------------------------------------------------------


def test_a_scripted_journey_climbs_from_visitor_to_hot_sales_qualified_lead():
    decisions = journey(scripted_journey())

    assert transitions(decisions) == [
        (Stage.NEW, Stage.IQL, Temperature.COLD, Temperature.COLD),  # identify: contact details
        (Stage.IQL, Stage.MQL, Temperature.COLD, Temperature.WARM),  # webinar: sustained interest, fits
        # BANT confirmed with a known, fitting profile: sales-qualified (sales owns SQL), not hot yet
        (Stage.MQL, Stage.SQL, Temperature.WARM, Temperature.WARM),
        (Stage.SQL, Stage.SQL, Temperature.WARM, Temperature.HOT),  # demo request: intent
    ]
    assert [d.change is not None for d in decisions] == [False, True, False, True, False, True, True]


def test_a_change_names_its_cause_time_model_and_the_scores_that_crossed_the_threshold():
    decisions = journey(scripted_journey())
    to_sql = decisions[-1].change

    assert to_sql.lead_id == "lead-1"
    assert to_sql.cause_event_id == "lead-1-demo"
    assert to_sql.event_time == T0 + days(3) + HOUR
    assert to_sql.model_version == "default-3"
    assert to_sql.account == "acme.com"
    assert to_sql.scores == scores_at(decisions[-1].state, model(), T0 + days(3) + HOUR)
    assert to_sql.scores.intent >= 30 > scores_at(decisions[-2].state, model(), T0 + days(3)).intent
    assert to_sql.scores.intent == pytest.approx(30 + 10 * 2 ** (-(HOUR / days(7))))
    assert to_sql.scores.total == pytest.approx(to_sql.scores.interest + to_sql.scores.intent)
    assert to_sql.scores.fit == 100


def test_a_lead_reading_only_blog_posts_stays_cold():
    weekly_for_half_a_year = [signal("blog_view", T0 + days(7 * week)) for week in range(26)]

    decisions = journey(weekly_for_half_a_year)

    assert {d.state.temperature for d in decisions} == {Temperature.COLD}
    assert {d.state.stage for d in decisions} == {Stage.IQL}
    assert transitions(decisions) == [(Stage.NEW, Stage.IQL, Temperature.COLD, Temperature.COLD)]


def test_sequence_numbers_increase_by_one_per_change_including_demotions():
    decisions = journey([
        *scripted_journey(),
        # Six weeks of silence: the next visit finds a cooled lead and recycles it.
        signal("page_view", T0 + days(45)),
        signal("demo_request", T0 + days(45) + HOUR),
        signal("trial_signup", T0 + days(45) + 2 * HOUR),
    ])

    emitted = changes(decisions)
    assert [c.sequence for c in emitted] == list(range(1, len(emitted) + 1))
    assert final_state(decisions).sequence == len(emitted)
    assert transitions(decisions)[4:] == [
        # Cooled, but within the inactivity bound sales' SQL holds: still SQL, no longer hot.
        (Stage.SQL, Stage.SQL, Temperature.HOT, Temperature.WARM),
        (Stage.SQL, Stage.SQL, Temperature.WARM, Temperature.HOT),  # a fresh demo request
    ]


# -- explanations ---------------------------------------------------------------------------


def test_reasons_list_the_top_contributions_by_points_now_after_decay():
    decisions = journey([
        identify(T0 - HOUR, "ada@acme.com", **ICP_FIT),
        answer(T0 - HOUR, **BANT_MET),
        signal("demo_request", T0),  # 30 points a week ago: 15 now
        signal("case_study_download", T0 + days(7)),  # 10
        signal("webinar_attended", T0 + days(7)),  # 20
        signal("email_click", T0 + days(7)),  # 3
        signal("trial_signup", T0 + days(7)),  # 25: intent back over the sql rung: hot
    ])
    to_hot = decisions[-1].change

    assert to_hot.to_temperature is Temperature.HOT
    assert [r.kind for r in to_hot.reasons] == [
        "trial_signup", "webinar_attended", "demo_request",
    ]
    assert [r.points_now for r in to_hot.reasons] == pytest.approx([25, 20, 15])
    assert to_hot.reasons[2].last_at == T0


def test_reasons_show_capped_points_not_raw_points():
    state = final_state(journey([signal("blog_view", T0 + minute * 60) for minute in range(20)]))

    (blog,) = top_contributions(state, model(), T0 + HOUR)

    assert blog.count == 20
    assert blog.points_now == model().rule("blog_view").cap == 10


def test_reasons_are_capped_at_the_models_top_reasons():
    steps = [signal(kind, T0) for kind in ("demo_request", "pricing_view", "webinar_attended",
                                           "case_study_download", "email_click")]
    state = final_state(journey(steps))

    assert len(top_contributions(state, model(), T0)) == 3
    assert len(top_contributions(state, replace(model(), top_reasons=1), T0)) == 1
    assert top_contributions(state, replace(model(), top_reasons=1), T0)[0].kind == "demo_request"


def test_zero_point_signals_are_never_given_as_reasons():
    state = final_state(journey([signal("careers_view", T0), signal("page_view", T0)]))

    assert [r.kind for r in top_contributions(state, model(), T0)] == ["page_view"]


def test_negative_signals_are_never_given_as_reasons():
    state = final_state(journey([signal("email_unsubscribe", T0), signal("email_bounce", T0),
                                 signal("page_view", T0)]))

    assert [r.kind for r in top_contributions(state, model(), T0)] == ["page_view"]


# -- identity -------------------------------------------------------------------------------


def test_an_identify_with_an_email_makes_an_anonymous_lead_information_qualified():
    decisions = journey([
        signal("blog_view", T0, lead="anon-1", anonymous=True),
        identify(T0 + HOUR, "Ada@Acme.COM", lead="anon-1", anonymous=True),
    ])

    assert decisions[0].state.stage is Stage.NEW
    assert (decisions[1].change.from_stage, decisions[1].change.to_stage) == (Stage.NEW, Stage.IQL)
    assert decisions[1].change.account == "acme.com"
    assert final_state(decisions).account == "acme.com"


def test_an_identify_without_an_email_leaves_a_visitor_new():
    decisions = journey([
        signal("blog_view", T0, lead="anon-1", anonymous=True),
        signal(None, T0 + HOUR, lead="anon-1", anonymous=True, profile={"name": "Ada", **ICP_FIT}),
    ])

    assert final_state(decisions).stage is Stage.NEW
    assert final_state(decisions).profile["name"].value == "Ada"
    assert changes(decisions) == []


def test_visits_before_identify_count_once_the_visitor_is_known():
    decisions = journey([
        signal("webinar_attended", T0, lead="anon-1", anonymous=True),
        signal("case_study_download", T0, lead="anon-1", anonymous=True),
        signal("pricing_view", T0, lead="anon-1", anonymous=True),  # 40 points in all
        identify(T0 + HOUR, "ada@acme.com", lead="anon-1", anonymous=True, **ICP_FIT),
    ])

    assert decisions[2].state.stage is Stage.NEW  # a visitor cannot be called, whatever it scores
    assert decisions[2].state.temperature is Temperature.WARM
    assert (decisions[3].change.from_stage, decisions[3].change.to_stage) == (Stage.NEW, Stage.MQL)


def test_a_later_profile_fact_revises_an_earlier_one_whatever_the_arrival_order():
    earlier = identify(T0, "ada@acme.com", title="Analyst", employees=20)
    later = identify(T0 + days(1), "ada@acme.com", title="Head of Growth")

    for order in ([earlier, later], [later, earlier]):
        profile = final_state(journey(order)).profile
        assert profile["title"].value == "Head of Growth"
        assert profile["employees"].value == 20  # not restated later: kept


# -- held state: counts, not points ----------------------------------------------------------


def with_points(scoring_model, scale=None, **points):
    """The model with every weight (and cap) scaled, or single kinds re-weighted by name."""
    factor = scale if scale is not None else 1
    rules = {
        kind: SignalRule(kind, rule.component, points.get(kind, rule.points * factor),
                         rule.cap * factor if rule.cap is not None else None)
        for kind, rule in scoring_model.signals.items()
    }
    return replace(scoring_model, signals=MappingProxyType(rules))


def test_a_weight_change_in_the_model_applies_exactly_to_held_state():
    state = final_state(journey(scripted_journey()))
    at = T0 + days(10)

    before = scores_at(state, model(), at)
    doubled = scores_at(state, with_points(model(), scale=2), at)

    assert doubled.interest == pytest.approx(2 * before.interest, rel=1e-12)
    assert doubled.intent == pytest.approx(2 * before.intent, rel=1e-12)
    assert before.total > 0


def test_reweighting_one_signal_changes_only_its_own_contribution():
    state = final_state(journey([signal("demo_request", T0), signal("pricing_view", T0 + days(1))]))
    at = T0 + days(2)

    before = scores_at(state, model(), at)
    after = scores_at(state, with_points(model(), demo_request=40), at)

    assert after.intent - before.intent == pytest.approx(10 * 2 ** (-2 / 7), rel=1e-12)
    assert after.interest == before.interest


def test_a_cap_change_in_the_model_applies_exactly_to_held_state():
    state = final_state(journey([signal("blog_view", T0 + minute * 60) for minute in range(20)]))
    raw = 2 * sum(2 ** (-(days(1) + HOUR - minute * 60) / days(30)) for minute in range(20))
    at = T0 + days(1) + HOUR
    uncapped = replace(model(), signals=MappingProxyType({
        **model().signals, "blog_view": replace(model().rule("blog_view"), cap=None),
    }))

    assert scores_at(state, model(), at).interest == 10
    assert scores_at(state, uncapped, at).interest == pytest.approx(raw, rel=1e-12)


# -- event time -----------------------------------------------------------------------------


def test_a_late_event_is_decayed_from_its_own_time():
    on_time = signal("demo_request", T0 + days(10))
    late = signal("pricing_view", T0)  # happened ten days earlier, arrives afterwards

    state = final_state(journey([on_time, late]))

    assert state.as_of == T0 + days(10)
    assert scores_at(state, model(), T0 + days(10)).intent == pytest.approx(30 + 10 * 2 ** (-10 / 7))
    assert state.tallies["pricing_view"].last_at == T0


def test_a_late_event_scores_as_if_it_had_arrived_in_order():
    steps = [signal("pricing_view", T0), signal("demo_request", T0 + days(10)),
             signal("webinar_attended", T0 + days(4)), signal("email_unsubscribe", T0 + days(2))]

    in_order = final_state(journey(sorted(steps, key=lambda s: s.occurred_at)))
    as_arrived = final_state(journey(steps))

    for at in (T0 + days(10), T0 + days(30)):
        a, b = scores_at(in_order, model(), at), scores_at(as_arrived, model(), at)
        assert math.isclose(a.interest, b.interest, rel_tol=1e-12)
        assert math.isclose(a.intent, b.intent, rel_tol=1e-12)
        assert math.isclose(a.negative, b.negative, rel_tol=1e-12)


def test_each_component_decays_with_its_own_half_life():
    state = final_state(journey([signal("demo_request", T0), signal("webinar_attended", T0),
                                 signal("email_unsubscribe", T0)]))

    later = scores_at(state, model(), T0 + days(7))

    assert later.intent == pytest.approx(15)  # 7-day half-life
    assert later.interest == pytest.approx(20 * 2 ** (-7 / 30))  # 30-day half-life
    assert later.negative == pytest.approx(20 * 2 ** (-7 / 14))  # 14-day half-life
    assert model().half_life_seconds[Component.INTENT] < model().half_life_seconds[Component.INTEREST]


def test_fit_does_not_decay():
    state = final_state(journey([identify(T0, "ada@acme.com", **ICP_FIT)]))

    assert scores_at(state, model(), T0).fit == scores_at(state, model(), T0 + days(365)).fit == 100
