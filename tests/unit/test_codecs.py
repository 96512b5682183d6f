"""What the worker writes: table state survives a round trip; topic messages meet their contracts."""

from __future__ import annotations

import orjson

from scoring import apply, load_model
from streams import codecs
from streams.simulator import plan_wave
from tests.contracts import assert_matches_contract
from tests.unit.builders import T0, identify, journey, signal


def test_a_lead_state_survives_the_table_round_trip_exactly():
    decisions = journey([
        identify(T0, "dana@acme.io"),
        signal("pricing_view", T0 + 60),
        signal("demo_request", T0 + 120),
        signal("contact_form", T0 + 180),
        signal("product_view", T0 + 240),
    ])
    state = decisions[-1].state
    assert state.recent_changes, "the journey should have produced changes to remember"

    assert codecs.decode_state(state.lead_id, codecs.encode_state(state)) == state


def test_a_decoded_state_keeps_scoring_as_the_original_would():
    model = load_model()
    state = journey([signal("pricing_view", T0), signal("demo_request", T0 + 60)])[-1].state
    restored = codecs.decode_state(state.lead_id, codecs.encode_state(state))
    next_signal = signal("contact_form", T0 + 120)

    assert apply(restored, next_signal, model) == apply(state, next_signal, model)


def test_emitted_changes_signals_and_dead_letters_meet_their_contracts():
    decisions = journey([identify(T0, "dana@acme.io"), signal("demo_request", T0 + 60)])
    change = next(d.change for d in reversed(decisions) if d.change)
    assert_matches_contract("leads.qualification", orjson.loads(codecs.encode_change(change, T0 + 61, T0 + 60.5)))
    forwarded = signal("pricing_view", T0)
    assert_matches_contract("leads.signals", orjson.loads(codecs.encode_signal(forwarded, T0 + 1)))
    assert codecs.decode_signal(codecs.encode_signal(forwarded, T0 + 1)) == (forwarded, T0 + 1)
    letter = codecs.encode_dead_letter("malformed_json", "bad", b"k", b"{", "leads.events.raw", 3, 42, T0, T0 + 1)
    assert_matches_contract("leads.events.dlq", orjson.loads(letter))


def test_the_simulators_well_formed_events_meet_the_inbound_contract():
    planned = plan_wave(seed=7, leads=60, span_s=30.0, start=T0)
    well_formed = [event for event in planned if event.label != "malformed"]
    assert len(well_formed) > 100
    for event in well_formed:
        assert_matches_contract("leads.events.raw", orjson.loads(event.value))
