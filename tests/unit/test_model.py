"""The scoring-model file: the shipped default loads, and every mistake names its field."""

from __future__ import annotations

import pytest

from scoring import Component, ModelError, SignalKind, load_model, parse_model
from scoring.model import normalise_event_name
from scoring.signals import page_kind
from tests.unit.builders import model_text


def rejected(text: str) -> str:
    with pytest.raises(ModelError) as raised:
        parse_model(text, source="test.toml")
    return str(raised.value)


def test_the_shipped_default_model_loads():
    model = load_model()

    assert model.version == "default-1"
    assert model.rule(SignalKind.DEMO_REQUEST).points == 30
    assert model.rule(SignalKind.DEMO_REQUEST).component is Component.INTENT
    assert model.half_life_seconds[Component.INTENT] == 7 * 86_400
    assert model.half_life_seconds[Component.INTEREST] == 30 * 86_400
    assert model.dedupe_window == 64
    assert model.top_reasons == 3


def test_every_event_the_default_model_maps_points_at_a_scored_signal():
    model = load_model()

    assert set(model.track_events.values()) <= set(model.signals)
    assert {rule.kind for rule in model.page_rules} <= set(model.signals)


def test_a_model_file_on_disk_loads_like_its_text(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text(model_text(('version = "default-1"', 'version = "candidate-7"')), "utf-8")

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
        ('demo_request = { component = "intent", points = 30 }',
         'demo_request = { component = "intent", points = "thirty" }'),
    ))

    assert "signals.demo_request.points" in message
    assert "'thirty'" in message


@pytest.mark.parametrize("value", ["true", "[30]", "{ value = 30 }", "inf", "nan"])
def test_points_that_are_no_finite_number_are_rejected_naming_the_field(value):
    message = rejected(model_text(
        ('demo_request = { component = "intent", points = 30 }',
         f'demo_request = {{ component = "intent", points = {value} }}'),
    ))

    assert "signals.demo_request.points" in message


def test_an_infinite_half_life_is_rejected_naming_it():
    message = rejected(model_text(("intent = 7\n", "intent = inf\n")))

    assert "half_life_days.intent" in message


def test_negative_points_are_rejected_naming_the_field():
    message = rejected(model_text(
        ('blog_view = { component = "interest", points = 2 }',
         'blog_view = { component = "interest", points = -2 }'),
    ))

    assert "signals.blog_view.points" in message


def test_an_unknown_component_lists_the_allowed_components():
    message = rejected(model_text(
        ('demo_request = { component = "intent", points = 30 }',
         'demo_request = { component = "urgency", points = 30 }'),
    ))

    assert "signals.demo_request.component" in message
    assert "'urgency'" in message
    assert "interest, intent" in message


def test_an_unknown_signal_kind_under_signals_is_rejected_naming_it():
    message = rejected(model_text(
        ("[signals]\n", '[signals]\nwebsite_visit = { component = "interest", points = 1 }\n'),
    ))

    assert "signals.website_visit" in message
    assert "demo_request" in message  # the allowed kinds are listed


def test_an_unknown_top_level_field_is_rejected_naming_it():
    message = rejected(model_text(('version = "default-1"', 'version = "default-1"\nhalf_life = 3')))

    assert "half_life" in message
    assert "unknown field" in message


def test_an_unknown_field_inside_a_signal_is_rejected_naming_it():
    message = rejected(model_text(
        ('demo_request = { component = "intent", points = 30 }',
         'demo_request = { component = "intent", points = 30, decay = 2 }'),
    ))

    assert "signals.demo_request.decay" in message


def test_a_demote_threshold_at_or_above_promote_is_rejected_naming_it():
    message = rejected(model_text(
        ("hot = { promote = 60, demote = 45 }", "hot = { promote = 60, demote = 60 }"),
    ))

    assert "thresholds.temperature.hot.demote" in message


def test_hot_thresholds_below_warm_are_rejected():
    message = rejected(model_text(
        ("hot = { promote = 60, demote = 45 }", "hot = { promote = 25, demote = 10 }"),
    ))

    assert "thresholds.temperature.hot" in message
    assert "warm" in message


def test_a_hot_demote_threshold_below_the_warm_one_is_rejected():
    message = rejected(model_text(
        ("hot = { promote = 60, demote = 45 }", "hot = { promote = 60, demote = 15 }"),
    ))

    assert "thresholds.temperature.hot" in message


def test_sql_thresholds_below_mql_are_rejected_naming_the_stage_ladder():
    message = rejected(model_text(
        ("sql = { promote = 60, demote = 45 }", "sql = { promote = 30, demote = 10 }"),
    ))

    assert "thresholds.stage.sql" in message


def test_an_event_mapped_to_a_signal_without_points_is_rejected():
    message = rejected(model_text(('demo_request = { component = "intent", points = 30 }\n', "")))

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
    assert load_model().track_events[normalise_event_name(spelling)] is SignalKind.DEMO_REQUEST


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

    assert page_kind("/pricing/enterprise/quote", model) is SignalKind.PRICE_LIST_DOWNLOAD
    assert page_kind("/pricing/teams", model) is SignalKind.PRICING_VIEW
    assert page_kind("/blog/post", model) is SignalKind.PAGE_VIEW  # no /blog rule in this model
