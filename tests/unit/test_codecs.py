"""What the worker writes: table state survives a round trip; topic messages meet their contracts."""

from __future__ import annotations

import base64
import struct
from types import MappingProxyType

import orjson
import pytest
from hypothesis import given, settings
from msgspec.structs import replace

from scoring import Stage, VisitorState, apply, load_model
from scoring.history import History, record
from streams.contracts import (
    change_records, command_records, control_records, dead_letter_records, email_index, history_records, lead_records,
    signal_records, visitor_records,
)
from streams.devtools.simulator import plan_wave
from tests.contracts import assert_matches_contract
from tests.unit.builders import BANT_MET, ICP_FIT, T0, answer, days, identify, journey, meddic_model, signal
from tests.unit.format_4 import changes_part, format_4_record
from tests.unit.test_decay_properties import signal_lists


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

    assert lead_records.decode_state(state.lead_id, lead_records.encode_state(state)) == state
    assert state.reached >= {Stage.IQL, Stage.SQL} and state.model_version == load_model().version


def test_which_model_a_stored_state_was_classified_under_shows_in_its_bytes_alone():
    state = rich_journey()[-1].state
    stored = lead_records.encode_state(state)
    reclassified = lead_records.encode_state(replace(state, model_version="default-4"))

    assert stored.startswith(lead_records.classified_under("default-3"))
    assert not reclassified.startswith(lead_records.classified_under("default-3"))  # its changes still name default-3
    assert reclassified.startswith(lead_records.classified_under("default-4"))
    # A lead untouched since the format changed is not re-classified for it.
    assert format_2_record(state).startswith(lead_records.classified_under("default-3"))


def test_a_state_stored_before_stage_history_was_kept_knows_where_the_lead_stands_now():
    state = rich_journey()[-1].state
    stored = orjson.loads(keyed_state(state))
    for newer in ("reached", "hottest", "model_version"):
        del stored[newer]

    old = lead_records.decode_state(state.lead_id, orjson.dumps(stored))

    assert old.reached == {state.stage}
    assert (old.hottest, old.model_version) == (state.temperature, None)


def as_older_formats_held(state):
    """``state`` as a record written before format 4 reads back: nothing sales said, no hot rung level,
    active as of its as-of time, its remembered changes without their cause detail, enrichment flag or
    grade, no stage history, no journal and no grade."""
    changes = tuple((h, replace(c, cause_detail=None, needs_enrichment=False, grade=None))
                    for h, c in state.recent_changes)
    return replace(state, accepted_at=None, sql_ended_at=None, active_at=state.as_of, renewed=MappingProxyType({}),
                   flagged_at=None, needs_enrichment=False, levels=replace(state.levels, hot=0),
                   recent_changes=changes, path=(), journal=None, grade=None)


def keyed_state(state):
    """A state as the keyed JSON object the leads table held before format 2: changelogs still hold it."""
    def change(c):
        return {
            "id": c.change_id, "seq": c.sequence, "account": c.account,
            "from": [c.from_stage.value, c.from_temperature.value], "to": [c.to_stage.value, c.to_temperature.value],
            "scores": [c.scores.interest, c.scores.intent, c.scores.negative, c.scores.product, c.scores.fit],
            "reasons": [[r.kind, r.points_now, r.last_at, r.count] for r in c.reasons],
            "fit": [list(reason) for reason in c.fit_reasons], "framework": c.framework,
            "criteria": {criterion: status.value for criterion, status in c.criteria.items()},
            "disqualified_by": list(c.disqualified_by),
            "model": c.model_version, "cause": c.cause_event_id, "at": c.event_time, "cause_type": c.cause,
        }
    return orjson.dumps({
        "identified": state.identified, "as_of": state.as_of,
        "tallies": {kind: [t.decayed, t.count, t.last_at] for kind, t in state.tallies.items()},
        "profile": {name: [fact.value, fact.stated_at] for name, fact in state.profile.items()},
        "answers": {name: [a.status.value, a.stated_at] for name, a in state.answers.items()},
        "levels": [state.levels.mql, state.levels.sql, state.levels.pql, state.levels.warm],
        "stage": state.stage.value, "temperature": state.temperature.value, "rejected_at": state.rejected_at,
        "sequence": state.sequence,
        "recent_ids": base64.b64encode(struct.pack(f">{len(state.recent_event_ids)}Q",
                                                   *state.recent_event_ids)).decode(),
        "recent_changes": [[h, change(c)] for h, c in state.recent_changes],
        "reached": sorted(stage.value for stage in state.reached), "hottest": state.hottest.value,
        "model_version": state.model_version,
    })


def format_2_record(state, history=None):
    """A lead's record as format 2 wrote it (enum members by name, a keyed history): changelogs still hold it."""
    def change(c):
        scores = c.scores
        return [
            c.change_id, c.sequence, c.account, c.from_stage.value, c.from_temperature.value, c.to_stage.value,
            c.to_temperature.value, [scores.interest, scores.intent, scores.negative, scores.product, scores.fit],
            [part for r in c.reasons for part in (r.kind, r.points_now, r.last_at, r.count)],
            [part for reason in c.fit_reasons for part in reason], c.framework,
            [part for criterion, status in c.criteria.items() for part in (criterion, status.value)],
            list(c.disqualified_by), c.model_version, c.cause_event_id, c.event_time, c.cause,
        ]
    levels = state.levels
    head = orjson.dumps([
        2, state.model_version, state.identified, state.as_of,
        [part for kind, t in state.tallies.items() for part in (kind, t.decayed, t.count, t.last_at)],
        [part for name, fact in state.profile.items() for part in (name, fact.value, fact.stated_at)],
        [part for name, a in state.answers.items() for part in (name, a.status.value, a.stated_at)],
        [levels.mql, levels.sql, levels.pql, levels.warm], state.stage.value, state.temperature.value,
        state.rejected_at, state.sequence,
        base64.b64encode(struct.pack(f">{len(state.recent_event_ids)}Q", *state.recent_event_ids)).decode(),
        sorted(stage.value for stage in state.reached), state.hottest.value,
    ])
    changes = orjson.dumps([[h, *change(c)] for h, c in state.recent_changes]) if state.recent_changes else b""
    if history is None:
        return head + b"\n" + changes if changes else head
    return head + b"\n" + changes + b"\n" + orjson.dumps({
        "since": history.since,
        "folded": {kind: count for kind, count in history.folded.items()},
        "folded_events": history.folded_events,
        "events": [[e.at, e.kind] if not (e.answers or e.profile_fields) else
                   [e.at, e.kind, {c: s.value for c, s in e.answers.items()}, list(e.profile_fields)]
                   for e in history.events],
        "moves": [[m.at, m.from_stage.value, m.to_stage.value, m.from_temperature.value, m.to_temperature.value,
                   m.cause, m.total] for m in history.moves],
    })


@settings(max_examples=100, deadline=None)
@given(signal_lists())
def test_any_state_survives_the_compact_format_and_is_still_read_from_the_older_ones(steps):
    state = journey(steps)[-1].state
    compact = lead_records.encode_state(state)

    assert compact[0] == lead_records.STATE_FORMAT
    assert lead_records.decode_state(state.lead_id, compact) == state
    assert lead_records.decode_state(state.lead_id, format_2_record(state)) == as_older_formats_held(state)
    assert lead_records.decode_state(state.lead_id, keyed_state(state)) == as_older_formats_held(state)
    # The same parts (the older formats hold no stage history and no journal) take fewer bytes.
    same_parts = lead_records.encode_state(replace(state, path=(), journal=None))
    assert len(same_parts) < len(format_2_record(state)) < len(keyed_state(state))


@settings(max_examples=50, deadline=None)
@given(signal_lists())
def test_a_lead_record_written_in_format_2_reads_back_as_the_same_state_and_history(steps):
    decisions = journey(steps)
    history = History()
    for each, decision in zip(steps, decisions):
        if not decision.duplicate:
            history = record(history, each, decision.change, load_model(), events_kept=8)
    state = decisions[-1].state
    old = format_2_record(state, history)

    restored = lead_records.decode_state(state.lead_id, old)
    assert restored == as_older_formats_held(state)
    assert history_records.decode_history(lead_records.history_of(old)) == history
    # Written back, it moves to the current format, the same state and history still.
    rewritten = lead_records.encode_lead(restored, history_records.encode_history(history_records.decode_history(lead_records.history_of(old))))
    assert rewritten[0] == lead_records.STATE_FORMAT
    assert lead_records.decode_state(state.lead_id, rewritten) == as_older_formats_held(state)
    assert history_records.decode_history(lead_records.history_of(rewritten)) == history


def test_a_state_written_in_the_keyed_format_before_format_2_is_read_exactly():
    state = rich_journey()[-1].state
    assert state.recent_changes and state.profile and state.answers

    assert lead_records.decode_state(state.lead_id, keyed_state(state)) == as_older_formats_held(state)
    # Read back and written again, it moves to the compact format.
    restored = lead_records.decode_state(state.lead_id, keyed_state(state))
    assert lead_records.decode_state(state.lead_id, lead_records.encode_state(restored)) == as_older_formats_held(state)


def test_a_state_in_a_format_this_version_does_not_know_is_refused():
    stored = lead_records.encode_state(rich_journey()[-1].state)
    unknown = lead_records.STATE_FORMAT + 1
    with pytest.raises(ValueError, match=f"format {unknown}"):
        lead_records.decode_state("lead-1", bytes([unknown]) + stored[1:])
    head, _, changes = format_4_record(rich_journey()[-1].state).partition(b"\n")
    with pytest.raises(ValueError, match="format 9"):
        lead_records.decode_state("lead-1", orjson.dumps([9, *orjson.loads(head)[1:]]) + b"\n" + changes)


def test_remembered_changes_are_read_only_when_used_and_otherwise_written_back_as_they_were():
    signals = rich_signals()
    decisions = journey(signals)
    state = decisions[-1].state
    stored = lead_records.encode_state(state)
    restored = lead_records.decode_state(state.lead_id, stored)

    # An event that changes nothing carries the remembered changes over untouched, bytes and all.
    quiet = apply(restored, signal("blog_view", T0 + 301), load_model())
    assert quiet.change is None
    assert changes_part(lead_records.encode_state(quiet.state)) == changes_part(stored)
    # A redelivery re-emits what it caused, read from them.
    cause = next(s for s, d in zip(signals, decisions) if d.change is not None and d.change == state.recent_changes[-1][1])
    redelivered = apply(restored, cause, load_model())
    assert redelivered.duplicate and redelivered.change == state.recent_changes[-1][1]
    assert restored.recent_changes == state.recent_changes and len(restored.recent_changes) == len(state.recent_changes)


def test_a_decoded_state_keeps_scoring_as_the_original_would():
    model = load_model()
    state = rich_journey()[-1].state
    restored = lead_records.decode_state(state.lead_id, lead_records.encode_state(state))

    for next_signal in (signal("contact_form", T0 + 400), signal("page_view", T0 + days(20)),
                        identify(T0 + 500, "dana@rivalscore.com")):
        assert apply(restored, next_signal, model) == apply(state, next_signal, model)
        assert apply(restored, next_signal, meddic_model()) == apply(state, next_signal, meddic_model())


def test_a_forwarded_signal_survives_the_topic_round_trip_and_meets_its_contract():
    for forwarded in (signal("pricing_view", T0),
                      signal(None, T0, profile={"email": "Dana@Acme.io", **ICP_FIT}, answers={"budget": "no"}),
                      answer(T0, timeline="unknown", champion="yes")):
        assert_matches_contract("leads.signals", orjson.loads(signal_records.encode_signal(forwarded, T0 + 1)))
        assert signal_records.decode_signal(signal_records.encode_signal(forwarded, T0 + 1)) == (forwarded, T0 + 1)


def test_a_visitors_held_history_survives_the_table_round_trip():
    held = (signal("pricing_view", T0, lead="v-1", anonymous=True),
            signal(None, T0 + 1, lead="v-1", anonymous=True, profile={"company": "Acme"}, answers={"need": "yes"}))
    for state in (VisitorState("v-1", held=held, last_seen=T0 + 2),
                  VisitorState("v-1", lead_id="lead-9", last_seen=T0)):
        assert visitor_records.decode_visitor("v-1", visitor_records.encode_visitor(state)) == state


def test_every_command_on_the_signals_topic_meets_its_contract():
    released = (signal("pricing_view", T0, lead="lead-9"), signal(None, T0 + 1, lead="lead-9", answers={"need": "yes"}))
    commands = [
        command_records.encode_command(command_records.ERASE, "lead-9", T0),
        command_records.encode_command(command_records.FEEDBACK, "lead-9", T0, feedback_id="f1", verdict="rejected", reason="no budget",
                              by="sam"),
        command_records.encode_command(command_records.STITCH, "lead-9", T0, visitor_id="v-1"),
        command_records.encode_release("lead-9", "v-1", "release:abc", released, T0),
        command_records.encode_command(command_records.EXPIRE, None, T0, visitor_id="v-1"),
        command_records.encode_command(command_records.DECAY, "lead-9", T0, due=T0 - 5),
        command_records.encode_command(command_records.OUTCOME, "lead-9", T0, outcome="won", event_id="crm-1"),
        command_records.encode_command(command_records.RECLASSIFY, "lead-9", T0, version="2026.2", cause="model:2026.2@3"),
        command_records.encode_command(command_records.SHADOW_START, "lead-9", T0, version="2026.3",
                                       cause="shadow:2026.3@4"),
        command_records.encode_command(command_records.SHADOW_DECAY, "lead-9", T0, due=T0 - 5),
        email_index.index_command("lena@acme.io", "lead-9", T0, stated=True)[1],
    ]
    for command in commands:
        assert command_records.is_command(command)
        assert_matches_contract("leads.signals", orjson.loads(command))
    release = orjson.loads(commands[3])
    assert tuple(signal_records.signal_from_dict(each) for each in release["signals"]) == released


def test_an_applied_model_record_meets_its_contract_and_reads_back():
    record = control_records.encode_model_applied('version = "fast-2"\n', "fast-2", "fast-1", T0)
    assert_matches_contract("leads.control", orjson.loads(record))
    assert control_records.decode_model_applied(record)["model"] == 'version = "fast-2"\n'


def test_a_worker_model_report_meets_its_contract_and_reads_back():
    report = control_records.WorkerReport(
        worker="http://10.0.0.7:6066", host="w7", pid=42, version="acme-1", digest="sha256:" + "ab" * 32,
        source="LEADSTREAM_MODEL=/etc/leadstream/acme.toml", applied_offset=None,
        refused={"offset": 3, "version": "acme-2", "reason": "a half-life changed"}, reported_at=T0)
    raw = control_records.encode_worker_report(report)
    assert_matches_contract("leads.control", orjson.loads(raw))
    assert control_records.worker_report_from(raw) == report


def test_a_malformed_command_breaks_the_contract():
    with pytest.raises(AssertionError, match="visitor_id"):
        assert_matches_contract("leads.signals", orjson.loads(command_records.encode_command(command_records.STITCH, "lead-9", T0)))
    with pytest.raises(AssertionError, match="stated"):
        assert_matches_contract("leads.signals", orjson.loads(command_records.encode_command(
            command_records.EMAIL, "lead-9", T0, email="lena@acme.io")))


def test_emitted_changes_and_dead_letters_meet_their_contracts():
    emitted = [d.change for d in rich_journey() if d.change]
    disqualified = journey([identify(T0, "kim@gmail.com", title="Intern"), signal("email_hard_bounce", T0 + 1)])
    emitted += [d.change for d in disqualified if d.change]
    assert {c.to_stage for c in emitted} >= {Stage.IQL, Stage.SQL, Stage.DISQUALIFIED}

    for change in emitted:
        message = orjson.loads(change_records.encode_change(change, T0 + 61, T0 + 60.5))
        assert_matches_contract("leads.qualification", message)
        assert list(message["criteria"]) == list(change.criteria)  # the framework's order
    letter = dead_letter_records.encode_dead_letter("malformed_json", "bad", b"k", b"{", "leads.events.raw", 3, 42, T0, T0 + 1)
    assert_matches_contract("leads.events.dlq", orjson.loads(letter))


def test_a_dead_letter_of_a_huge_record_keeps_its_start_and_fits_in_a_kafka_record():
    huge = b"x" * 3_000_000
    letter = dead_letter_records.encode_dead_letter("oversized", "big", None, huge, "leads.events.raw", 0, 1, T0, T0 + 1)
    message = orjson.loads(letter)
    assert len(letter) < 1_000_000
    assert message["value_truncated"] and message["value_bytes"] == len(huge)
    assert_matches_contract("leads.events.dlq", message)


def test_an_emitted_change_carries_scores_fit_reasons_framework_and_disqualifiers():
    change = next(d.change for d in journey([identify(T0, "kim@rivalscore.com", **ICP_FIT)]) if d.change)

    message = orjson.loads(change_records.encode_change(change, T0 + 1, None))

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

    assert lead_records.decode_state(state.lead_id, lead_records.encode_state(state)) == state


def test_a_lead_history_survives_the_table_round_trip_exactly_folded_or_not():
    signals = rich_signals()
    decisions = journey(signals)
    for kept in (64, 4):
        history = History()
        for each, decision in zip(signals, decisions):
            history = record(history, each, decision.change, load_model(), events_kept=kept)
        assert history.moves and history.events[-1].answers  # the BANT answers come last
        assert (history.folded_events > 0) == (kept == 4)

        assert history_records.decode_history(history_records.encode_history(history)) == history


def test_a_lead_record_holds_its_state_and_its_history_and_each_reads_back_alone():
    signals = rich_signals()
    decisions = journey(signals)
    history = History()
    for each, decision in zip(signals, decisions):
        history = record(history, each, decision.change, load_model())
    with_changes = decisions[-1].state
    without_changes = replace(with_changes, recent_changes=())
    assert with_changes.recent_changes
    for state in (with_changes, without_changes):
        stored = lead_records.encode_lead(state, history_records.encode_history(history))

        assert lead_records.decode_state(state.lead_id, stored) == state
        assert history_records.decode_history(lead_records.history_of(stored)) == history
        # A lead scored before it had a history line: the state alone, and no history.
        assert lead_records.history_of(lead_records.encode_lead(state)) == b""
        assert lead_records.decode_state(state.lead_id, lead_records.encode_lead(state)) == state

