"""A lead's history draws its score over time, exactly, in bounded space."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Stage, Temperature, scores_at
from scoring.history import History, record, scores_then, seeded_from, series
from tests.unit.builders import HOUR, T0, answer, days, identify, journey, model, signal
from tests.unit.test_decay_properties import signal_lists

PROPERTIES = settings(max_examples=150, deadline=None)


def recorded(decisions, signals, events_kept=64):
    """The history the pipeline would keep: each applied signal, and the change it caused."""
    history = History()
    for decision, each in zip(decisions, signals):
        if not decision.duplicate:
            history = record(history, each, decision.change, model(), events_kept=events_kept)
    return history


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@PROPERTIES
@given(signal_lists(max_size=40), st.integers(1, 12), st.floats(0, days(30)))
def test_the_history_gives_the_states_score_now_however_much_it_has_folded(signals, kept, later):
    decisions = journey(signals)
    state = decisions[-1].state
    history = recorded(decisions, signals, events_kept=kept)
    now = state.as_of + later

    then, expected = scores_then(history, state, model(), now), scores_at(state, model(), now)

    assert len(history.events) <= kept
    for part in ("interest", "intent", "negative", "product", "total"):
        assert close(getattr(then, part), getattr(expected, part)), part


@PROPERTIES
@given(signal_lists(max_size=30, with_facts=False), st.integers(1, 8))
def test_a_folded_history_still_gives_every_earlier_score_from_its_start(signals, kept):
    decisions = journey(signals)
    state = decisions[-1].state
    full = recorded(decisions, signals, events_kept=1000)
    folded = recorded(decisions, signals, events_kept=kept)
    start = folded.starts_at
    for at in sorted({s.occurred_at for s in signals if s.occurred_at >= start} | {state.as_of}):
        assert close(scores_then(folded, state, model(), at).total, scores_then(full, state, model(), at).total)


def test_the_series_decays_between_events_and_jumps_at_each():
    signals = [identify(T0, "ada@acme.com"), signal("demo_request", T0 + HOUR), signal("pricing_view", T0 + days(2))]
    decisions = journey(signals)
    state = decisions[-1].state
    history = recorded(decisions, signals)

    samples = series(history, state, model(), now=T0 + days(9), points=50)

    intent = [(s.at, s.scores.intent) for s in samples]
    assert intent[0] == (T0, 0.0)
    at_demo = [value for at, value in intent if at == T0 + HOUR]
    assert at_demo == [0.0, 30.0]  # just before the demo request, and with it
    between = [value for at, value in intent if T0 + HOUR < at < T0 + days(2)]
    assert between == sorted(between, reverse=True) and between[0] < 30.0  # decaying
    assert samples[-1].at == T0 + days(9)
    assert samples[-1].scores == scores_at(state, model(), T0 + days(9))  # the API's number


def test_a_late_event_lands_in_its_place_in_time():
    signals = [signal("blog_view", T0 + days(3)), signal("case_study_download", T0 + days(1))]
    history = recorded(journey(signals), signals)

    assert [event.at for event in history.events] == [T0 + days(1), T0 + days(3)]


def test_moves_and_answers_are_kept_for_the_timeline_and_bounded():
    signals = [identify(T0, "ada@acme.com", title="VP Sales"), answer(T0 + HOUR, budget="yes")]
    decisions = journey(signals)
    history = recorded(decisions, signals)

    assert history.events[0].profile_fields == ("email", "title")
    assert dict(history.events[1].answers) == {"budget": decisions[1].state.answers["budget"].status}
    assert [(m.from_stage, m.to_stage) for m in history.moves] == [(Stage.NEW, Stage.IQL)]
    assert history.moves[0].from_temperature is Temperature.COLD

    for n in range(40):
        history = record(history, None, decisions[0].change, model(), changes_kept=16)
    assert len(history.moves) == 16


def test_a_lead_scored_before_histories_were_kept_is_exact_from_its_as_of_time():
    signals = [signal("demo_request", T0), signal("webinar_attended", T0 + days(1))]
    state = journey(signals)[-1].state

    history = seeded_from(state)

    assert history.starts_at == state.as_of and history.events == ()
    later = state.as_of + days(5)
    assert close(scores_then(history, state, model(), later).total, scores_at(state, model(), later).total)


@settings(max_examples=150, deadline=None)
@given(st.one_of(signal_lists(max_size=20), signal_lists(min_size=60, max_size=90)), st.booleans(),
       st.sets(st.integers(0, 90), max_size=5))
def test_a_batch_adding_to_a_history_in_place_writes_the_bytes_the_whole_record_path_writes(
    signals, in_time_order, batch_ends,
):
    from streams.contracts import history_records, lead_records
    from streams.worker.history_draft import HistoryDraft

    if in_time_order:  # most traffic: appended in place until the oldest must fold
        signals = sorted(signals, key=lambda each: each.occurred_at)
    decisions = journey(signals)
    whole, draft = History(), HistoryDraft(b"", None)
    for index, (decision, each) in enumerate(zip(decisions, signals)):
        if decision.duplicate:
            continue
        whole = record(whole, each, decision.change, model())
        draft.record(each, decision.change, model())
        if index in batch_ends:  # the batch ends: its record is written, and the next batch reads it
            draft = HistoryDraft.of_record(lead_records.encode_lead(decision.state, draft.encode()), decision.state)
    assert draft.encode() == history_records.encode_history(whole)
    assert history_records.decode_history(draft.encode()) == whole


def test_moves_added_in_place_keep_only_the_latest_as_the_whole_record_path_does():
    from streams.contracts import history_records, lead_records
    from streams.worker.history_draft import HistoryDraft

    moved = [d.change for d in journey([signal("demo_request", T0 + HOUR * n, profile={"email": "ada@acme.com"})
                                        for n in range(3)]) if d.change is not None]
    assert moved
    whole, draft = History(), HistoryDraft.of_record(lead_records.encode_lead(journey([signal(None, T0)])[0].state,
                                                              history_records.encode_history(History())), None)
    for _ in range(20):
        for change in moved:
            whole = record(whole, None, change, model())
            draft.record(None, change, model())
    assert len(whole.moves) == 16
    assert draft.encode() == history_records.encode_history(whole)


def test_the_event_that_makes_the_oldest_fold_is_recorded_as_the_whole_record_path_does():
    from streams.contracts import history_records, lead_records
    from streams.worker.history_draft import HistoryDraft

    signals = [signal("blog_view", T0 + HOUR * n) for n in range(65)]
    decisions = journey(signals)
    whole = History()
    for decision, each in zip(decisions[:64], signals):
        whole = record(whole, each, decision.change, model())
    draft = HistoryDraft.of_record(lead_records.encode_lead(decisions[63].state, history_records.encode_history(whole)), decisions[63].state)
    whole = record(whole, signals[64], decisions[64].change, model())
    draft.record(signals[64], decisions[64].change, model())
    assert len(whole.events) == 64 and whole.folded_events == 1
    assert draft.encode() == history_records.encode_history(whole)
