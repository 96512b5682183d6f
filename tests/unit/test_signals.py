"""interpret(): from an inbound event to the signal it is worth, or why it is not scored."""

from __future__ import annotations

import pytest

from scoring import Contact, IgnoreReason, Ignored, Signal, SignalKind, interpret
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
    ("/pricing", SignalKind.PRICING_VIEW),
    ("/pricing/enterprise?plan=annual", SignalKind.PRICING_VIEW),
    ("/Pricing", SignalKind.PRICING_VIEW),
    ("/product/integrations", SignalKind.PRODUCT_VIEW),
    ("/features", SignalKind.PRODUCT_VIEW),
    ("/blog/why-lead-scoring", SignalKind.BLOG_VIEW),
    ("/careers/engineer", SignalKind.CAREERS_VIEW),
])
def test_a_page_view_counts_as_the_kind_its_path_rule_names(path, kind):
    assert page(path).kind is kind


@pytest.mark.parametrize("path", ["/", "/about", "/company/pricing", None])
def test_a_page_no_rule_matches_is_a_plain_page_view(path):
    assert page(path).kind is SignalKind.PAGE_VIEW


def test_a_screen_view_is_scored_like_a_page_view():
    assert interpret(event("screen", path="/pricing"), model()).kind is SignalKind.PRICING_VIEW


def test_a_scored_event_keeps_its_id_lead_and_event_time():
    result = page("/pricing", event_id="msg-42", lead="anon-7", anonymous=True, at=T0 + 123.5)

    assert result == Signal(event_id="msg-42", lead_id="anon-7", anonymous=True,
                            kind=SignalKind.PRICING_VIEW, occurred_at=T0 + 123.5)


@pytest.mark.parametrize(("name", "kind"), [
    ("Demo Requested", SignalKind.DEMO_REQUEST),
    ("demo_requested", SignalKind.DEMO_REQUEST),
    ("demo-requested", SignalKind.DEMO_REQUEST),
    ("Case Study Downloaded", SignalKind.CASE_STUDY_DOWNLOAD),
    ("Trial Started", SignalKind.TRIAL_SIGNUP),
])
def test_a_mapped_track_event_counts_as_its_signal_kind(name, kind):
    assert track(name).kind is kind


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
    assert page("/pricing", user_agent=user_agent).kind is SignalKind.PRICING_VIEW


def test_an_event_without_consent_is_ignored_even_when_it_would_score():
    assert page("/pricing", consent=False, user_agent=CHROME) == Ignored(IgnoreReason.NO_CONSENT)
    assert track("Demo Requested", consent=False) == Ignored(IgnoreReason.NO_CONSENT)


def test_an_identify_is_a_signal_with_no_kind_carrying_the_contact():
    contact = Contact(email="ada@example.com", name="Ada", company="Example", title="VP Sales")

    result = interpret(event("identify", lead="anon-1", anonymous=True, contact=contact), model())

    assert isinstance(result, Signal)
    assert result.kind is None
    assert result.contact == contact
    assert result.lead_id == "anon-1"
