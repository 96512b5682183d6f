"""Signals a model file defines: any name scores, explains itself by that name, and must be defined to be named."""

from __future__ import annotations


import pytest
from msgspec.structs import replace

from scoring import (
    EventType, Ignored, IgnoreReason, LeadEvent, ModelError, Signal, Stage, Temperature, apply, interpret, scores_at,
)
from scoring.explain import top_contributions
from scoring.history import History, record
from scoring.switch import half_life_change, reclassify_under
from scoring.visitors import VisitorState
from streams.api.board.model_tables import model_page
from streams.contracts import history_records, lead_records, signal_records, visitor_records
from tests.unit.builders import HOUR, T0, identify, journey, model, model_with, signal

G2 = ('[signals]\n', '[signals]\ng2_intent = { component = "intent", points = 30, cap = 60 }\n')
G2_EVENT = ('[events]\n', '[events]\n"G2 Intent Surge" = "g2_intent"\n')
G2_PAGE = ('[[page_views.rules]]\nprefix = "/pricing"',
           '[[page_views.rules]]\nprefix = "/compare/g2"\nsignal = "g2_intent"\n\n[[page_views.rules]]\nprefix = "/pricing"')


def g2_model():
    return model_with(G2, G2_EVENT, G2_PAGE)


def rejected(*edits: tuple[str, str]) -> str:
    with pytest.raises(ModelError) as raised:
        model_with(*edits)
    return str(raised.value)


@pytest.mark.parametrize("edit, field", [
    (G2_EVENT, "events.G2 Intent Surge"),
    (G2_PAGE, "page_views.rules[0].signal"),
    (('default = "page_view"', 'default = "g2_intent"'), "page_views.default"),
    (('dwell_signal = "dwell"', 'dwell_signal = "g2_intent"'), "page_views.dwell_signal"),
    (('product_signals = ["trial_signup", "feature_used"]', 'product_signals = ["trial_signup", "g2_intent"]'),
     "qualification.product_signals[1]"),
    (('signals = ["email_hard_bounce"]', 'signals = ["email_hard_bounce", "g2_intent"]'), "disqualify.signals[1]"),
    (('careers_signal = "careers_view"', 'careers_signal = "g2_intent"'), "disqualify.careers_signal"),
])
def test_a_model_naming_a_signal_it_does_not_define_is_refused_naming_the_field_and_the_signal(edit, field):
    message = rejected(edit)

    assert message.startswith(f"model file test model: {field}: signal 'g2_intent' is not defined under [signals]")


def test_a_model_that_drops_a_built_in_signal_its_rules_still_name_is_refused_naming_it():
    message = rejected(('demo_request = { component = "intent", points = 30, cap = 40 }\n', ''))
    assert "events.Demo Requested: signal 'demo_request' is not defined under [signals]" in message

    no_careers = (('careers_view = { component = "interest", points = 0 }\n', ''),
                  ('[[page_views.rules]]\nprefix = "/careers"\nsignal = "careers_view"\n', ''))
    message = rejected(*no_careers)
    assert "disqualify.careers_signal: signal 'careers_view' is not defined under [signals]" in message
    # A file that leaves careers_signal out (as files before it did) counts careers_view: defined, or refused.
    message = rejected(*no_careers, ('careers_signal = "careers_view"', ''))
    assert "disqualify.careers_only_after: counts signal 'careers_view'" in message
    # Without the careers-only rule the careers view is no longer needed.
    model_with(*no_careers, ('careers_signal = "careers_view"', ''), ('careers_only_after = 3', 'careers_only_after = 0'))


@pytest.mark.parametrize("name", ["g2 intent", "g2.intent", "_g2", "x" * 65])
def test_a_signal_name_that_is_no_plain_key_is_refused(name):
    message = rejected(('[signals]\n', f'[signals]\n"{name}" = {{ component = "intent", points = 5 }}\n'))
    assert f"signals.{name}: a signal name is 1 to 64 letters, digits" in message


def test_a_custom_signal_from_a_track_event_or_a_page_rule_scores_and_its_reason_names_it():
    g2 = g2_model()
    surge = interpret(LeadEvent(event_id="e-2", lead_id="lead-1", anonymous=False, type=EventType.TRACK,
                                occurred_at=T0 + HOUR, name="g2-intent-surge"), g2)
    compared = interpret(LeadEvent(event_id="e-3", lead_id="lead-1", anonymous=False, type=EventType.PAGE,
                                   occurred_at=T0 + 2 * HOUR, path="/compare/g2/leadstream"), g2)
    assert isinstance(surge, Signal) and isinstance(compared, Signal)
    assert (surge.kind, compared.kind) == ("g2_intent", "g2_intent")

    decisions = journey([identify(T0, "ada@acme.com", title="VP Sales", industry="software"), surge, compared], g2)

    warmed = decisions[1].change
    assert warmed is not None and (warmed.to_stage, warmed.to_temperature) == (Stage.IQL, Temperature.WARM)
    assert [(c.kind, c.points_now, c.count) for c in warmed.reasons] == [("g2_intent", 30.0, 1)]
    assert warmed.scores.intent == 30.0
    state = decisions[-1].state
    assert state.tallies["g2_intent"].count == 2
    assert top_contributions(state, g2, state.as_of)[0].kind == "g2_intent"
    # The shipped model does not know the event.
    unknown = LeadEvent(event_id="e-9", lead_id="lead-1", anonymous=False, type=EventType.TRACK, occurred_at=T0,
                        name="G2 Intent Surge")
    assert interpret(unknown, model()) == Ignored(IgnoreReason.UNMAPPED_EVENT)


def g2_lead():
    """A fitting lead warmed by one G2 intent surge, under the model that defines it."""
    return journey([identify(T0, "ada@acme.com", title="VP Sales", industry="software"),
                    signal("g2_intent", T0 + HOUR)], g2_model())[-1].state


def test_a_removed_signal_keeps_its_held_count_unscored_and_scores_again_when_defined_again():
    held = g2_lead()
    assert held.temperature is Temperature.WARM

    removed = reclassify_under(held, model(), "model:default-3@1")  # the shipped model has no g2_intent
    assert removed.change is not None and removed.change.to_temperature is Temperature.COLD
    assert "g2_intent" not in [c.kind for c in removed.change.reasons]
    assert removed.state.tallies["g2_intent"] == held.tallies["g2_intent"]  # kept as held
    assert scores_at(removed.state, model(), removed.state.as_of).intent == 0.0

    # Events under the model without it move the other kinds on and leave the kept count as it was.
    later = apply(removed.state, signal("pricing_view", T0 + 2 * HOUR), model()).state
    assert later.tallies["g2_intent"] == held.tallies["g2_intent"]
    # A G2 signal still in flight when the model changed scores nothing, and breaks nothing.
    in_flight = apply(later, signal("g2_intent", T0 + 3 * HOUR), model())
    assert in_flight.state.tallies["g2_intent"] == held.tallies["g2_intent"]
    assert in_flight.state.temperature is Temperature.COLD

    readded = reclassify_under(in_flight.state, g2_model(), "model:g2@2")
    assert readded.change is not None and readded.change.to_temperature is Temperature.WARM
    assert readded.change.reasons[0].kind == "g2_intent" and readded.change.reasons[0].count == 1
    assert readded.change.scores.intent == pytest.approx(30.0 + 10.0 * 2 ** (-1 / (7 * 24)), rel=1e-9)


def test_custom_signals_survive_every_stored_record_and_built_in_kinds_are_written_as_before():
    g2 = g2_model()
    signals = [identify(T0, "ada@acme.com", title="VP Sales", industry="software"),
               signal("g2_intent", T0 + HOUR), signal("pricing_view", T0 + 2 * HOUR)]
    decisions = journey(signals, g2)
    state = decisions[-1].state
    history = History()
    for decision, each in zip(decisions, signals):
        history = record(history, each, decision.change, g2)

    stored = lead_records.encode_lead(state, history_records.encode_history(history))
    assert b"g2_intent" in stored  # a kind the model file defines is written by its name
    assert lead_records.decode_state(state.lead_id, stored) == state
    assert history_records.decode_history(lead_records.history_of(stored)) == history
    surge = signals[1]
    assert signal_records.decode_signal(signal_records.encode_signal(surge, T0))[0] == surge
    visitor = VisitorState(visitor_id="v-1", lead_id=None, held=(replace(surge, anonymous=True),), last_seen=T0)
    assert visitor_records.decode_visitor("v-1", visitor_records.encode_visitor(visitor)) == visitor

    # A lead of built-in kinds only holds their codes, as before kinds were the model's (its
    # journal's signals, decoded whole, name theirs).
    built_in = journey([identify(T0, "ada@acme.com"), signal("pricing_view", T0 + HOUR)])[-1].state
    written = lead_records.encode_state(replace(built_in, journal=None))
    assert b"pricing_view" not in written and lead_records.decode_state("lead-1", written) == replace(built_in, journal=None)
    assert lead_records.decode_state("lead-1", lead_records.encode_state(built_in)) == built_in


def test_the_board_model_page_lists_a_custom_signal_and_what_maps_to_it():
    html = model_page(g2_model(), "g2.toml")

    assert '<th scope="row">g2_intent</th><td>intent</td>' in html
    assert "g2 intent surge" in html and "/compare/g2" in html


JOBS = (('[signals]\n', '[signals]\njobs_view = { component = "interest", points = 0 }\n'),
        ('careers_only_after = 3', 'careers_only_after = 2'), ('careers_signal = "careers_view"', 'careers_signal = "jobs_view"'))


def test_the_careers_only_rule_counts_the_careers_signal_the_model_names():
    jobs = model_with(*JOBS)
    seeker = [identify(T0, "ada@acme.com"), signal("jobs_view", T0 + 1), signal("page_view", T0 + 2),
              signal("jobs_view", T0 + 3)]
    assert journey(seeker, jobs)[-1].state.stage is Stage.DISQUALIFIED
    assert journey([*seeker, signal("pricing_view", T0 + 4)], jobs)[-1].state.stage is not Stage.DISQUALIFIED
    assert journey(seeker)[-1].state.stage is not Stage.DISQUALIFIED  # the shipped model counts careers_view


def test_a_signal_moved_to_a_component_that_fades_at_another_rate_needs_a_replay_but_adding_one_does_not():
    assert half_life_change(model(), g2_model()) is None  # added
    assert half_life_change(g2_model(), model()) is None  # removed: its counts are kept, unscored

    moved = model_with(('demo_request = { component = "intent"', 'demo_request = { component = "interest"'))

    assert half_life_change(model(), moved) == (
        "signals change component and so half-life (demo_request intent → interest): held counts were decayed"
        " with the old one, so switching needs a replay")
