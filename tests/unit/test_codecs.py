"""What the worker writes: table state survives a round trip; topic messages meet their contracts."""

from __future__ import annotations

import orjson
import pytest

from scoring import Stage, VisitorState, apply, load_model
from scoring.history import History, record
from streams import codecs
from streams.simulator import plan_wave
from tests.contracts import assert_matches_contract
from tests.unit.builders import BANT_MET, ICP_FIT, T0, answer, days, identify, journey, meddic_model, signal


def rich_journey():
    """Profile, answers, capped, negative and product signals, and several changes to remember."""
    return journey(rich_signals())


def rich_signals():
    return [
        identify(T0, "dana@acme.io", **ICP_FIT),
        answer(T0 + 30, need="yes", authority=True, metrics="40% faster"),
        signal("pricing_view", T0 + 60),
        *(signal("blog_view", T0 + 90 + n) for n in range(8)),
        signal("demo_request", T0 + 120),
        signal("contact_form", T0 + 180),
        signal("trial_signup", T0 + 200),
        signal("feature_used", T0 + 220),
        signal("email_unsubscribe", T0 + 230),
        signal("product_view", T0 + 240),
        answer(T0 + 300, **BANT_MET),
    ]


def test_a_lead_state_survives_the_table_round_trip_exactly():
    state = rich_journey()[-1].state
    assert state.recent_changes, "the journey should have produced changes to remember"
    assert state.profile and state.answers and state.levels.sql

    assert codecs.decode_state(state.lead_id, codecs.encode_state(state)) == state


def test_a_decoded_state_keeps_scoring_as_the_original_would():
    model = load_model()
    state = rich_journey()[-1].state
    restored = codecs.decode_state(state.lead_id, codecs.encode_state(state))

    for next_signal in (signal("contact_form", T0 + 400), signal("page_view", T0 + days(20)),
                        identify(T0 + 500, "dana@rivalscore.com")):
        assert apply(restored, next_signal, model) == apply(state, next_signal, model)
        assert apply(restored, next_signal, meddic_model()) == apply(state, next_signal, meddic_model())


def test_a_forwarded_signal_survives_the_topic_round_trip_and_meets_its_contract():
    for forwarded in (signal("pricing_view", T0),
                      signal(None, T0, profile={"email": "Dana@Acme.io", **ICP_FIT}, answers={"budget": "no"}),
                      answer(T0, timeline="unknown", champion="yes")):
        assert_matches_contract("leads.signals", orjson.loads(codecs.encode_signal(forwarded, T0 + 1)))
        assert codecs.decode_signal(codecs.encode_signal(forwarded, T0 + 1)) == (forwarded, T0 + 1)


def test_a_visitors_held_history_survives_the_table_round_trip():
    held = (signal("pricing_view", T0, lead="v-1", anonymous=True),
            signal(None, T0 + 1, lead="v-1", anonymous=True, profile={"company": "Acme"}, answers={"need": "yes"}))
    for state in (VisitorState("v-1", held=held, last_seen=T0 + 2),
                  VisitorState("v-1", lead_id="lead-9", last_seen=T0)):
        assert codecs.decode_visitor("v-1", codecs.encode_visitor(state)) == state


def test_every_command_on_the_signals_topic_meets_its_contract():
    released = (signal("pricing_view", T0, lead="lead-9"), signal(None, T0 + 1, lead="lead-9", answers={"need": "yes"}))
    commands = [
        codecs.encode_command(codecs.ERASE, "lead-9", T0),
        codecs.encode_command(codecs.FEEDBACK, "lead-9", T0, feedback_id="f1", verdict="rejected", reason="no budget",
                              by="sam"),
        codecs.encode_command(codecs.STITCH, "lead-9", T0, visitor_id="v-1"),
        codecs.encode_release("lead-9", "v-1", "release:abc", released, T0),
        codecs.encode_command(codecs.EXPIRE, None, T0, visitor_id="v-1"),
    ]
    for command in commands:
        assert codecs.is_command(command)
        assert_matches_contract("leads.signals", orjson.loads(command))
    release = orjson.loads(commands[3])
    assert tuple(codecs.signal_from_dict(each) for each in release["signals"]) == released


def test_a_malformed_command_breaks_the_contract():
    with pytest.raises(AssertionError, match="visitor_id"):
        assert_matches_contract("leads.signals", orjson.loads(codecs.encode_command(codecs.STITCH, "lead-9", T0)))


def test_emitted_changes_and_dead_letters_meet_their_contracts():
    emitted = [d.change for d in rich_journey() if d.change]
    disqualified = journey([identify(T0, "kim@gmail.com", title="Intern"), signal("email_hard_bounce", T0 + 1)])
    emitted += [d.change for d in disqualified if d.change]
    assert {c.to_stage for c in emitted} >= {Stage.IQL, Stage.SQL, Stage.DISQUALIFIED}

    for change in emitted:
        message = orjson.loads(codecs.encode_change(change, T0 + 61, T0 + 60.5))
        assert_matches_contract("leads.qualification", message)
        assert list(message["criteria"]) == list(change.criteria)  # the framework's order
    letter = codecs.encode_dead_letter("malformed_json", "bad", b"k", b"{", "leads.events.raw", 3, 42, T0, T0 + 1)
    assert_matches_contract("leads.events.dlq", orjson.loads(letter))


def test_a_dead_letter_of_a_huge_record_keeps_its_start_and_fits_in_a_kafka_record():
    huge = b"x" * 3_000_000
    letter = codecs.encode_dead_letter("oversized", "big", None, huge, "leads.events.raw", 0, 1, T0, T0 + 1)
    message = orjson.loads(letter)
    assert len(letter) < 1_000_000
    assert message["value_truncated"] and message["value_bytes"] == len(huge)
    assert_matches_contract("leads.events.dlq", message)


def test_an_emitted_change_carries_scores_fit_reasons_framework_and_disqualifiers():
    change = next(d.change for d in journey([identify(T0, "kim@rivalscore.com", **ICP_FIT)]) if d.change)

    message = orjson.loads(codecs.encode_change(change, T0 + 1, None))

    assert message["to_stage"] == "disqualified"
    assert message["disqualified_by"] == ["competitor"]
    assert message["framework"] == "bant"
    assert message["score"] == {"total": 0, "interest": 0, "intent": 0, "negative": 0, "product": 0, "fit": 100}
    assert message["fit_reasons"][0] == {"match": "industry software", "points": 25}
    assert message["ingested_at"] is None


def test_the_simulators_well_formed_events_meet_the_inbound_contract():
    planned = plan_wave(seed=7, leads=60, span_s=30.0, start=T0)
    well_formed = [event for event in planned if event.label != "malformed"]
    assert len(well_formed) > 100
    for event in well_formed:
        assert_matches_contract("leads.events.raw", orjson.loads(event.value))


# -- bugs found in review, fixed: these pin the fixes ------------------------------------------------


def test_a_lead_claiming_an_absurd_company_size_can_still_be_stored():
    state = journey([identify(T0, "dana@acme.io", employees="100000000000000000000")])[-1].state

    assert codecs.decode_state(state.lead_id, codecs.encode_state(state)) == state


def test_a_lead_history_survives_the_table_round_trip_exactly_folded_or_not():
    signals = rich_signals()
    decisions = journey(signals)
    for kept in (64, 4):
        history = History()
        for each, decision in zip(signals, decisions):
            history = record(history, each, decision.change, load_model(), events_kept=kept)
        assert history.moves and history.events[-1].answers  # the BANT answers come last
        assert (history.folded_events > 0) == (kept == 4)

        assert codecs.decode_history(codecs.encode_history(history)) == history
