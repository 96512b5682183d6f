"""Fit against the ideal customer profile, and what puts a lead out of market."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import SignalKind, Stage, Temperature
from scoring.fit import assess_fit, disqualifications
from scoring.profile import Fact, Scalar, facts_from
from tests.unit.builders import (
    ICP_FIT,
    ICP_FIT_REASONS,
    T0,
    final_state,
    identify,
    journey,
    model,
    model_with,
    signal,
)


def profile(**attributes: Scalar) -> Mapping[str, Fact]:
    """Facts as the engine holds them, normalised from raw attributes."""
    return {field: Fact(value, T0) for field, value in facts_from(attributes).items()}


def fit_of(**attributes: Scalar):
    return assess_fit(profile(**attributes), model().fit)


def out_of_market(seen: Mapping[SignalKind, int] | None = None, **attributes: Scalar) -> tuple[str, ...]:
    return disqualifications(profile(**attributes), seen or {}, model().disqualify)


# -- fit --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("attributes", "reason"), [
    ({"industry": "Software"}, ("industry software", 25)),
    ({"industry": "SaaS"}, ("industry saas", 25)),
    ({"employees": 50}, ("company size 50", 25)),
    ({"employees": 5000}, ("company size 5000", 25)),
    ({"employees": "200-500"}, ("company size 350", 25)),  # a range counts as its midpoint
    ({"country": "us"}, ("country US", 20)),
    ({"country": "DE"}, ("country DE", 20)),
    ({"title": "VP of Sales"}, ("title decision_maker", 30)),
    ({"title": "Marketing Manager"}, ("title influencer", 15)),
    ({"title": "Data Analyst"}, ("title user", 5)),
])
def test_each_icp_part_scores_its_points(attributes, reason):
    result = fit_of(email="ada@acme.com", **attributes)

    assert result.matched == (reason,)
    assert result.score == reason[1]


@pytest.mark.parametrize("attributes", [
    {"industry": "Mining"}, {"employees": 49}, {"employees": 5001}, {"country": "BR"}, {"country": "USA"},
    {"title": "Intern"}, {},
])
def test_a_profile_outside_the_icp_scores_nothing_for_that_part(attributes):
    assert fit_of(email="ada@acme.com", **attributes).score == 0


def test_a_profile_matching_every_icp_part_scores_the_sum_and_lists_every_match():
    result = fit_of(email="ada@acme.com", **ICP_FIT)

    assert result.score == 100
    assert result.matched == ICP_FIT_REASONS
    assert result.role == "decision_maker"


def test_a_free_mail_address_is_penalised():
    result = fit_of(email="ada@Gmail.com", **ICP_FIT)

    assert result.score == 80
    assert result.matched[-1] == ("free-mail address", -20)


def test_fit_never_drops_below_zero():
    result = fit_of(email="ada@gmail.com", title="Data Analyst")  # 5 − 20

    assert result.score == 0
    assert ("free-mail address", -20) in result.matched


def test_fit_never_rises_above_one_hundred():
    generous = model_with(("points = 25\nmatch = [\"software\"", "points = 60\nmatch = [\"software\""))
    assert generous.fit.industry_points == 60

    result = assess_fit(profile(email="ada@acme.com", **ICP_FIT), generous.fit)

    assert sum(points for _, points in result.matched) == 135
    assert result.score == 100


@pytest.mark.parametrize(("title", "role", "points"), [
    ("Director of Engineering", "decision_maker", 30),  # also an engineer: the first rule wins
    ("Lead Engineer", "influencer", 15),  # also an engineer: the first matching rule wins
    ("Senior Software Engineer", "user", 5),
    ("HEAD OF GROWTH", "decision_maker", 30),
    ("Leadership Coach", None, 0),  # whole words only
])
def test_title_rules_match_first_match_wins_and_give_the_role(title, role, points):
    result = fit_of(email="ada@acme.com", title=title)

    assert (result.role, result.score) == (role, points)


def test_title_rules_are_tried_in_their_order():
    reversed_rules = replace(model().fit, titles=tuple(reversed(model().fit.titles)))
    title = profile(title="Lead Engineer")  # matches both the influencer and the user rule

    assert assess_fit(title, model().fit).role == "influencer"
    assert assess_fit(title, reversed_rules).role == "user"


def test_a_lead_with_no_profile_has_no_fit_and_no_role():
    result = assess_fit({}, model().fit)

    assert (result.score, result.matched, result.role) == (0, (), None)


# -- disqualification ------------------------------------------------------------------------


def test_a_competitor_domain_disqualifies():
    assert out_of_market(email="spy@RivalScore.com") == ("competitor",)
    assert out_of_market(email="buyer@leadrival.io") == ("competitor",)
    assert out_of_market(email="buyer@rivalscore.co") == ()


@pytest.mark.parametrize("email", ["kim@mit.edu", "kim@cs.stanford.edu", "kim@ox.ac.uk", "kim@unsw.edu.au"])
def test_a_student_domain_disqualifies_by_suffix(email):
    assert out_of_market(email=email) == ("student",)


@pytest.mark.parametrize("email", ["kim@education.com", "kim@edu-tech.io", "kim@myedu.com", "kim@acme.educ"])
def test_a_domain_merely_containing_edu_is_not_a_student(email):
    assert out_of_market(email=email) == ()


def test_an_out_of_market_country_disqualifies():
    assert out_of_market(country="kp") == ("out_of_market_country",)
    assert out_of_market(country="KR") == ()


def test_too_few_employees_disqualify():
    assert out_of_market(employees=4) == ("out_of_market_size",)
    assert out_of_market(employees=5) == ()
    assert out_of_market() == ()  # an unknown size is no reason


def test_a_hard_bounce_disqualifies_but_a_soft_bounce_does_not():
    assert out_of_market({"email_hard_bounce": 1}) == ("signal email_hard_bounce",)
    assert out_of_market({"email_bounce": 3}) == ()


def test_every_reason_that_holds_is_listed():
    reasons = out_of_market({"email_hard_bounce": 1}, email="x@rivalscore.com", country="IR", employees=2)

    assert reasons == ("competitor", "out_of_market_country", "out_of_market_size", "signal email_hard_bounce")


def test_careers_only_browsing_disqualifies_after_n_views():
    assert out_of_market({"careers_view": 2}) == ()
    assert out_of_market({"careers_view": 3}) == ("careers_only",)
    assert out_of_market({"careers_view": 3, "page_view": 4}) == ("careers_only",)


@pytest.mark.parametrize("kind", ["blog_view", "pricing_view", "demo_request"])
def test_careers_views_do_not_disqualify_once_another_valuable_signal_exists(kind):
    assert out_of_market({"careers_view": 10, kind: 1}) == ()


def test_careers_only_can_be_switched_off_in_the_model():
    off = model_with(("careers_only_after = 3", "careers_only_after = 0"))

    assert disqualifications({}, {"careers_view": 10}, off.disqualify) == ()


def test_a_job_seeker_is_disqualified_until_it_does_something_else():
    decisions = journey([identify(T0, "kim@acme.com", **ICP_FIT),
                         *(signal("careers_view", T0 + minute * 60) for minute in range(1, 4)),
                         signal("product_view", T0 + 3_600)])

    assert [d.state.stage for d in decisions] == [Stage.IQL, Stage.IQL, Stage.IQL, Stage.DISQUALIFIED, Stage.IQL]
    assert decisions[3].change.disqualified_by == ("careers_only",)


def test_a_later_email_outside_the_competitor_domain_lifts_the_disqualification():
    state = final_state(journey([identify(T0, "kim@rivalscore.com", **ICP_FIT),
                                 identify(T0 + 60, "kim@acme.com")]))

    assert (state.stage, state.temperature) == (Stage.IQL, Temperature.COLD)


# -- bugs found in review, fixed: these pin the fixes ------------------------------------------------


@pytest.mark.parametrize("size", ["1.5k", "2k", "3.2K"])
def test_a_company_size_written_in_thousands_is_not_read_as_a_handful_of_people(size):
    assert out_of_market(employees=size) == ()


_PROFILE_VALUES = st.fixed_dictionaries({}, optional={
    "email": st.sampled_from(["kim@acme.io", "spy@rivalscore.com", "kim@mit.edu", "kim@gmail.com", "kim@ox.ac.uk"]),
    "country": st.sampled_from(["US", "KP", "IR", "de", 7]),
    "employees": st.sampled_from([1, 4, 5, 250, True, False, "12"]),
})


@settings(max_examples=200)
@given(st.lists(_PROFILE_VALUES, max_size=12))
def test_remembered_disqualifications_match_those_reckoned_afresh(profiles):
    rules = replace(model().disqualify)  # a memo of its own, filled as the profiles come
    for values in profiles:
        held = {field: Fact(value, T0) for field, value in values.items()}
        assert disqualifications(held, {}, rules) == disqualifications(held, {}, replace(rules))
