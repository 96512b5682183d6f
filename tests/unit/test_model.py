"""The scoring-model file: the shipped default loads, and every mistake names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring import Component, ModelError, load_model, parse_model
from scoring.model import normalise_event_name
from scoring.signals import page_kind
from scoring.stages import Rung
from tests.unit.builders import BANT, MEDDIC, meddic_model, model_text


def rejected(text: str) -> str:
    with pytest.raises(ModelError) as raised:
        parse_model(text, source="test.toml")
    return str(raised.value)


def test_the_shipped_default_model_loads():
    model = load_model()

    assert model.version == "default-3"
    assert model.rule("demo_request").points == 30
    assert model.rule("demo_request").component is Component.INTENT
    assert model.half_life_seconds[Component.INTENT] == 7 * 86_400
    assert model.half_life_seconds[Component.INTEREST] == 30 * 86_400
    assert model.dedupe_window == 64
    assert model.top_reasons == 3


def test_the_shipped_default_model_has_caps_ladders_fit_disqualifiers_and_bant():
    model = load_model()

    assert model.rule("blog_view").cap == 10
    assert model.rule("careers_view").cap is None
    assert model.rule("email_unsubscribe").component is Component.NEGATIVE
    assert model.qualification.ladders.mql == Rung(promote=25, demote=15)
    assert model.qualification.ladders.warm == Rung(promote=30, demote=20)
    assert model.qualification.product_signals == {"trial_signup", "feature_used"}
    assert (model.qualification.ladders.hot, model.qualification.warm_max_missing) == (Rung(5, 2.5), 2)
    assert (model.fit.mql_minimum, model.fit.size_min, model.fit.size_max) == (20, 50, 5000)
    assert [rule.role for rule in model.fit.titles] == ["decision_maker", "influencer", "user"]
    assert "rivalscore.com" in model.disqualify.competitor_domains
    assert model.disqualify.signals == {"email_hard_bounce"}
    assert model.criteria.framework.name == "bant"
    assert model.criteria.framework.criteria == BANT
    assert sorted(model.criteria.frameworks) == ["bant", "champ", "gpctba_ci", "meddic", "meddpicc"]
    assert model.criteria.answer_fields["purchase_timeline"] == "timeline"


def test_the_active_framework_is_the_one_the_file_names():
    model = meddic_model()

    assert (model.criteria.framework.name, model.criteria.framework.criteria) == ("meddic", MEDDIC)
    assert model.criteria.framework.need == "identify_pain"
    assert "budget" in model.criteria.known  # answers to other frameworks' criteria are still kept


def test_every_event_the_default_model_maps_points_at_a_scored_signal():
    model = load_model()

    assert set(model.track_events.values()) <= set(model.signals)
    assert {rule.kind for rule in model.page_rules} <= set(model.signals)


def test_a_model_file_on_disk_loads_like_its_text(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text(model_text(('version = "default-3"', 'version = "candidate-7"')), "utf-8")

    assert load_model(path).version == "candidate-7"


def test_a_missing_model_file_names_its_path(tmp_path):
    missing = tmp_path / "nowhere" / "model.toml"

    with pytest.raises(ModelError) as raised:
        load_model(missing)

    assert str(missing) in str(raised.value)


def test_a_file_that_is_not_toml_is_rejected_naming_the_source():
    message = rejected("version = \n[signals\n")

    assert "test.toml" in message
    assert "not valid TOML" in message


def test_points_of_the_wrong_type_name_the_exact_field():
    message = rejected(model_text(
        ('demo_request = { component = "intent", points = 30, cap = 40 }',
         'demo_request = { component = "intent", points = "thirty", cap = 40 }'),
    ))

    assert "signals.demo_request.points" in message
    assert "'thirty'" in message


@pytest.mark.parametrize("value", ["true", "[30]", "{ value = 30 }", "inf", "nan"])
def test_points_that_are_no_finite_number_are_rejected_naming_the_field(value):
    message = rejected(model_text(
        ('demo_request = { component = "intent", points = 30, cap = 40 }',
         f'demo_request = {{ component = "intent", points = {value}, cap = 40 }}'),
    ))

    assert "signals.demo_request.points" in message


def test_an_infinite_half_life_is_rejected_naming_it():
    message = rejected(model_text(("intent = 7\n", "intent = inf\n")))

    assert "half_life_days.intent" in message


def test_negative_points_are_rejected_naming_the_field():
    message = rejected(model_text(
        ('blog_view = { component = "interest", points = 2, cap = 10 }',
         'blog_view = { component = "interest", points = -2, cap = 10 }'),
    ))

    assert "signals.blog_view.points" in message


def test_an_unknown_component_lists_the_allowed_components():
    message = rejected(model_text(
        ('demo_request = { component = "intent", points = 30, cap = 40 }',
         'demo_request = { component = "urgency", points = 30, cap = 40 }'),
    ))

    assert "signals.demo_request.component" in message
    assert "'urgency'" in message
    assert "interest, intent" in message


def test_an_unknown_top_level_field_is_rejected_naming_it():
    message = rejected(model_text(('version = "default-3"', 'version = "default-3"\nhalf_life = 3')))

    assert "half_life" in message
    assert "unknown field" in message


def test_an_unknown_field_inside_a_signal_is_rejected_naming_it():
    message = rejected(model_text(
        ('demo_request = { component = "intent", points = 30, cap = 40 }',
         'demo_request = { component = "intent", points = 30, cap = 40, decay = 2 }'),
    ))

    assert "signals.demo_request.decay" in message


def test_an_event_mapped_to_a_signal_without_points_is_rejected():
    message = rejected(model_text(('demo_request = { component = "intent", points = 30, cap = 40 }\n', "")))

    assert "events.Demo Requested" in message
    assert "demo_request" in message
    assert "[signals]" in message


def test_a_page_rule_pointing_to_an_unknown_signal_is_rejected_naming_the_rule():
    message = rejected(model_text(('signal = "blog_view"', 'signal = "blog_post"')))

    assert "page_views.rules[3].signal" in message


def test_a_page_rule_prefix_must_be_a_path():
    message = rejected(model_text(('prefix = "/blog"', 'prefix = "blog"')))

    assert "page_views.rules[3].prefix" in message


def test_a_missing_half_life_is_rejected_naming_it():
    message = rejected(model_text(("intent = 7\n", "")))

    assert "half_life_days.intent" in message
    assert "missing" in message


def test_a_zero_half_life_is_rejected():
    message = rejected(model_text(("intent = 7\n", "intent = 0\n")))

    assert "half_life_days.intent" in message


def test_a_dedupe_window_out_of_range_is_rejected_naming_it():
    message = rejected(model_text(("window = 64", "window = 0")))

    assert "dedupe.window" in message


@pytest.mark.parametrize("spelling", ["Demo Requested", "demo_requested", "demo-requested",
                                      "  DEMO   requested ", "Demo_-Requested"])
def test_event_names_match_whatever_their_case_and_separators(spelling):
    assert normalise_event_name(spelling) == normalise_event_name("Demo Requested")
    assert load_model().track_events[normalise_event_name(spelling)] == "demo_request"


def test_differently_worded_event_names_stay_distinct():
    assert normalise_event_name("Demo Requested") != normalise_event_name("Demos Requested")


PAGE_RULES_SHORT_FIRST = """
[[page_views.rules]]
prefix = "/pricing"
signal = "pricing_view"

[[page_views.rules]]
prefix = "/pricing/enterprise"
signal = "price_list_download"
"""

PAGE_RULES_LONG_FIRST = """
[[page_views.rules]]
prefix = "/pricing/enterprise"
signal = "price_list_download"

[[page_views.rules]]
prefix = "/pricing"
signal = "pricing_view"
"""


def model_with_page_rules(rules: str):
    text = model_text()
    head, _, tail = text.partition("[[page_views.rules]]")
    thresholds = tail[tail.index("# Thresholds"):]
    return parse_model(head + rules + "\n" + thresholds)


@pytest.mark.parametrize("rules", [PAGE_RULES_SHORT_FIRST, PAGE_RULES_LONG_FIRST],
                         ids=["short-prefix-first", "long-prefix-first"])
def test_the_longest_page_prefix_wins_whatever_the_file_order(rules):
    model = model_with_page_rules(rules)

    assert page_kind("/pricing/enterprise/quote", model) == "price_list_download"
    assert page_kind("/pricing/teams", model) == "pricing_view"
    assert page_kind("/blog/post", model) == "page_view"  # no /blog rule in this model


# -- the qualification model's sections -----------------------------------------------------


def test_an_unknown_framework_name_lists_the_allowed_ones():
    message = rejected(model_text(('framework = "bant"', 'framework = "spin"')))

    assert "criteria.framework" in message
    assert "'spin'" in message
    assert "bant, champ, meddpicc, meddic, gpctba_ci" in message


def test_a_need_that_is_not_one_of_the_frameworks_criteria_is_rejected_naming_it():
    message = rejected(model_text(('need = "need"', 'need = "money"')))

    assert "criteria.frameworks.bant.need" in message
    assert "'money'" in message
    assert "budget, authority, need, timeline" in message


def test_a_framework_without_criteria_is_rejected_naming_it():
    message = rejected(model_text(
        ('criteria = ["challenges", "authority", "money", "prioritization"]', "criteria = []"),
    ))

    assert "criteria.frameworks.champ.criteria" in message


def test_an_answer_field_mapped_to_an_unknown_criterion_is_rejected_naming_it():
    message = rejected(model_text(('pain_point = "need"', 'pain_point = "pain"')))

    assert "criteria.answer_fields.pain_point" in message
    assert "'pain'" in message


def test_a_bad_title_pattern_is_rejected_naming_it():
    message = rejected(model_text(('pattern = "\\\\b(manager|lead|principal|architect)\\\\b"', 'pattern = "(manager"')))

    assert "fit.titles[1].pattern" in message
    assert "regular expression" in message


def test_an_unknown_title_role_lists_the_allowed_roles():
    message = rejected(model_text(('role = "user"', 'role = "janitor"')))

    assert "fit.titles[2].role" in message
    assert "'janitor'" in message
    assert "decision_maker, influencer, user" in message


def test_a_company_size_max_below_its_min_is_rejected_naming_it():
    message = rejected(model_text(("max = 5000", "max = 10")))

    assert "fit.company_size.max" in message
    assert "50" in message


@pytest.mark.parametrize(("old", "new", "field"), [
    ("mql_minimum = 20", 'mql_minimum = "high"', "fit.mql_minimum"),
    ("penalty = 20", "penalty = -20", "fit.free_mail.penalty"),
    ("min_employees = 5", "min_employees = 2.5", "disqualify.min_employees"),
    ("careers_only_after = 3", "careers_only_after = -1", "disqualify.careers_only_after"),
    ("hot = { promote = 5, demote = 2.5 }", "hot = { promote = 5, demote = 6 }", "thresholds.hot.demote"),
    ('sql = "no_match"', 'sql = "unknown"', "fit.unknown.sql"),
    ("inactivity_bound_weeks = 8", "inactivity_bound_weeks = 0", "sales.inactivity_bound_weeks"),
    ("rejection_cooldown_days = 30", "rejection_cooldown_days = -1", "sales.rejection_cooldown_days"),
    ("renewed_intent_minimum = 30", "renewed_intent_minimum = 0", "sales.renewed_intent_minimum"),
    ("renewed_intent_minimum = 30", "renewed_intent_minimum = 30\nspeed = 2", "sales.speed"),
    ("warm_max_missing_criteria = 2", "warm_max_missing_criteria = 21", "qualification.warm_max_missing_criteria"),
    ('competitor_domains = ["rivalscore.com", "leadrival.io"]', 'competitor_domains = "rivalscore.com"',
     "disqualify.competitor_domains"),
    ('signals = ["email_hard_bounce"]', 'signals = ["email_bounced"]', "disqualify.signals[0]"),
])
def test_a_bad_fit_disqualify_or_qualification_value_is_rejected_naming_its_field(old, new, field):
    assert field in rejected(model_text((old, new)))


def test_a_product_signal_that_is_no_signal_is_rejected_naming_it():
    message = rejected(model_text(
        ('product_signals = ["trial_signup", "feature_used"]', 'product_signals = ["trial_signup", "app_opened"]'),
    ))

    assert "qualification.product_signals[1]" in message
    assert "'app_opened'" in message


def test_no_product_signals_at_all_is_rejected_naming_the_field():
    message = rejected(model_text(('product_signals = ["trial_signup", "feature_used"]', "product_signals = []")))

    assert "qualification.product_signals" in message


@pytest.mark.parametrize("cap", ["-1", "0", '"ten"'])
def test_a_negative_or_zero_cap_is_rejected_naming_it(cap):
    message = rejected(model_text(
        ('blog_view = { component = "interest", points = 2, cap = 10 }',
         f'blog_view = {{ component = "interest", points = 2, cap = {cap} }}'),
    ))

    assert "signals.blog_view.cap" in message


@pytest.mark.parametrize("ladder", ["mql", "sql", "pql", "warm"])
def test_a_demote_threshold_at_or_above_promote_is_rejected_naming_its_ladder(ladder):
    rungs = {"mql": (25, 15), "sql": (30, 20), "pql": (25, 15), "warm": (30, 20)}
    promote, demote = rungs[ladder]
    message = rejected(model_text((f"{ladder} = {{ promote = {promote}, demote = {demote} }}",
                                   f"{ladder} = {{ promote = {promote}, demote = {promote} }}")))

    assert f"thresholds.{ladder}.demote" in message
    assert "flap" in message


def test_an_unknown_threshold_ladder_is_rejected_naming_it():
    message = rejected(model_text(("warm = { promote = 30, demote = 20 }",
                                   "warm = { promote = 30, demote = 20 }\nlukewarm = { promote = 60, demote = 45 }")))

    assert "thresholds.lukewarm" in message
    assert "unknown field" in message


PREVIOUS_VERSION = Path(__file__).parent / "data" / "model_default_2.toml"


def test_a_model_file_of_the_previous_version_still_loads_with_the_defaults_it_lacks():
    """The shipped default before sales-owned SQL: no [sales], no [fit.unknown], hot_min_interest a number."""
    previous = load_model(PREVIOUS_VERSION)

    assert previous.version == "default-2"
    assert previous.qualification.ladders.hot == Rung(promote=5, demote=2.5)
    assert previous.sales == load_model().sales and previous.fit.unknown == load_model().fit.unknown


def test_a_previous_version_file_missing_its_hot_interest_minimum_says_what_to_add():
    text = PREVIOUS_VERSION.read_text("utf-8").replace("hot_min_interest = 5\n", "")

    message = rejected(text)
    assert "thresholds.hot: missing" in message and "hot = { promote = 5, demote = 2.5 }" in message


def test_giving_both_the_hot_rung_and_the_old_interest_minimum_is_rejected_naming_the_old_one():
    message = rejected(model_text(("warm_max_missing_criteria = 2", "warm_max_missing_criteria = 2\nhot_min_interest = 5")))
    assert "qualification.hot_min_interest: replaced by thresholds.hot" in message
