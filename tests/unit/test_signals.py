"""interpret(): from an inbound event to the signal it is worth, or why it is not scored."""

from __future__ import annotations

import pytest

from scoring import IgnoreReason, Ignored, Signal, Status, interpret
from tests.unit.builders import T0, event, model

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Mobile Safari/537.36")


def page(path: str | None, **fields) -> Signal | Ignored:
    return interpret(event("page", path=path, **fields), model())


def track(name: str, **fields) -> Signal | Ignored:
    return interpret(event("track", name=name, **fields), model())


@pytest.mark.parametrize(("path", "kind"), [
    ("/pricing", "pricing_view"),
    ("/pricing/enterprise?plan=annual", "pricing_view"),
    ("/Pricing", "pricing_view"),
    ("/product/integrations", "product_view"),
    ("/features", "product_view"),
    ("/blog/why-lead-scoring", "blog_view"),
    ("/careers/engineer", "careers_view"),
])
def test_a_page_view_counts_as_the_kind_its_path_rule_names(path, kind):
    assert page(path).kind == kind


@pytest.mark.parametrize("path", ["/", "/about", "/company/pricing", None])
def test_a_page_no_rule_matches_is_a_plain_page_view(path):
    assert page(path).kind == "page_view"


def test_a_screen_view_is_scored_like_a_page_view():
    assert interpret(event("screen", path="/pricing"), model()).kind == "pricing_view"


def test_a_scored_event_keeps_its_id_lead_and_event_time():
    result = page("/pricing", event_id="msg-42", lead="anon-7", anonymous=True, at=T0 + 123.5)

    assert result == Signal(event_id="msg-42", lead_id="anon-7", anonymous=True,
                            kind="pricing_view", occurred_at=T0 + 123.5)


@pytest.mark.parametrize(("name", "kind"), [
    ("Demo Requested", "demo_request"),
    ("demo_requested", "demo_request"),
    ("demo-requested", "demo_request"),
    ("Case Study Downloaded", "case_study_download"),
    ("Trial Started", "trial_signup"),
])
def test_a_mapped_track_event_counts_as_its_signal_kind(name, kind):
    assert track(name).kind == kind


@pytest.mark.parametrize("name", ["Button Clicked", "", "Demo"])
def test_an_unmapped_track_event_is_ignored_as_unmapped(name):
    assert track(name) == Ignored(IgnoreReason.UNMAPPED_EVENT)


@pytest.mark.parametrize("name", ["Deal Won", "deal_lost", "Opportunity Created"])
def test_crm_outcomes_are_kept_for_calibration_not_scored(name):
    assert track(name) == Ignored(IgnoreReason.OUTCOME_ONLY)


@pytest.mark.parametrize("event_type", ["group", "alias"])
def test_group_and_alias_carry_nothing_to_score(event_type):
    assert interpret(event(event_type), model()) == Ignored(IgnoreReason.UNMAPPED_EVENT)


@pytest.mark.parametrize("user_agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.4.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
    "python-requests/2.31.0",
    "Wget/1.21.4",
])
def test_bots_and_scripted_clients_are_ignored(user_agent):
    assert page("/pricing", user_agent=user_agent) == Ignored(IgnoreReason.BOT)
    assert track("Demo Requested", user_agent=user_agent) == Ignored(IgnoreReason.BOT)


@pytest.mark.parametrize("user_agent", [CHROME, FIREFOX, SAFARI, ANDROID_CHROME, None, ""])
def test_a_real_browser_or_an_absent_user_agent_is_scored(user_agent):
    assert page("/pricing", user_agent=user_agent).kind == "pricing_view"


def test_an_event_without_consent_is_ignored_even_when_it_would_score():
    assert page("/pricing", consent=False, user_agent=CHROME) == Ignored(IgnoreReason.NO_CONSENT)
    assert track("Demo Requested", consent=False) == Ignored(IgnoreReason.NO_CONSENT)


def test_an_identify_is_a_signal_with_no_kind_carrying_the_normalised_profile():
    traits = {"email": "Ada@Example.COM", "name": "Ada", "company.name": "Example", "job_title": "VP Sales",
              "company.industry": "SaaS", "company.employee_count": "1,000+", "address.country": "gb"}

    result = interpret(event("identify", lead="anon-1", anonymous=True, attributes=traits), model())

    assert isinstance(result, Signal)
    assert result.kind is None
    assert result.lead_id == "anon-1"
    assert dict(result.profile) == {"email": "ada@example.com", "name": "Ada", "company": "Example",
                                    "title": "VP Sales", "industry": "SaaS", "employees": 1000, "country": "GB"}
    assert dict(result.answers) == {}


@pytest.mark.parametrize(("value", "employees"), [
    (200, 200), (199.9, 199), ("50-200", 125), ("1,000+", 1000), (" 75 employees", 75), ("1.5k", 1500),
    ("10 to 50", 30),
])
def test_a_company_size_is_read_as_a_head_count_and_a_range_as_its_midpoint(value, employees):
    result = interpret(event("identify", attributes={"employees": value}), model())

    assert result.profile["employees"] == employees


@pytest.mark.parametrize(("attributes", "left_out"), [
    ({"email": "not-an-address"}, "email"),
    ({"email": ""}, "email"),
    ({"employees": True}, "employees"),
    ({"employees": -3}, "employees"),
    ({"employees": "many"}, "employees"),
    ({"title": "   "}, "title"),
    ({"company": 42}, "company"),
])
def test_unusable_profile_values_are_left_out(attributes, left_out):
    result = interpret(event("identify", attributes=attributes), model())

    assert left_out not in result.profile


def test_a_preferred_alias_wins_over_a_less_preferred_one():
    result = interpret(event("identify", attributes={"company.name": "Second", "company": "First"}), model())

    assert result.profile["company"] == "First"


def test_a_scored_event_carries_the_profile_and_answers_it_states():
    result = track("Demo Requested", attributes={"email": "ada@acme.com", "criteria.budget": "yes",
                                                 "purchase_timeline": "this quarter", "plan": "team"})

    assert result.kind == "demo_request"
    assert dict(result.profile) == {"email": "ada@acme.com"}
    assert dict(result.answers) == {"budget": Status.MET, "timeline": Status.MET}


def test_an_unmapped_form_that_tells_who_the_lead_is_or_answers_a_criterion_is_kept_without_a_kind():
    told = track("Lead Form Submitted", attributes={"email": "ada@acme.com"})
    answered = track("Lead Form Submitted", attributes={"has_budget": False})

    assert isinstance(told, Signal) and told.kind is None and told.profile["email"] == "ada@acme.com"
    assert isinstance(answered, Signal) and answered.kind is None
    assert dict(answered.answers) == {"budget": Status.NOT_MET}


def test_an_unmapped_event_with_nothing_usable_stays_ignored():
    assert track("Button Clicked", attributes={"plan": "team", "criteria.colour": "blue"}) == Ignored(
        IgnoreReason.UNMAPPED_EVENT)


def test_outcomes_bots_and_refused_consent_stay_ignored_whatever_profile_they_carry():
    attributes = {"email": "ada@acme.com", "criteria.budget": "yes"}

    assert track("Deal Won", attributes=attributes) == Ignored(IgnoreReason.OUTCOME_ONLY)
    assert track("Button Clicked", attributes=attributes, user_agent="curl/8.4.0") == Ignored(IgnoreReason.BOT)
    assert interpret(event("identify", attributes=attributes, consent=False), model()) == Ignored(
        IgnoreReason.NO_CONSENT)


# -- bugs found in review, fixed: these pin the fixes ------------------------------------------------


def test_a_group_calls_company_name_and_email_never_become_the_persons():
    company_traits = {"name": "Acme Inc", "email": "billing@acme.com", "industry": "Software", "employees": 200}

    result = interpret(event("group", attributes=company_traits), model())

    assert not isinstance(result, Signal) or not {"name", "email"} & set(result.profile)
