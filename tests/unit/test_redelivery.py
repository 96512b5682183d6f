"""apply() on a redelivered event: counted once, the same change re-emitted, and change ids stable everywhere.

Kafka delivers at least once, so the engine recognises an event id among the lead's last 64
and answers it as it did the first time; change ids depend only on the lead and its events.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from msgspec.structs import replace

from scoring import apply, scores_at
from tests.unit.builders import (
    HOUR,
    ICP_FIT,
    T0,
    answer,
    changes,
    days,
    final_state,
    identify,
    journey,
    model,
    scripted_journey,
    signal,
)

REPO = Path(__file__).resolve().parents[2]


# -- redelivery and dedupe --------------------------------------------------------------------


def test_a_redelivered_event_is_counted_once():
    demo = signal("demo_request", T0, event_id="msg-1")
    first = apply(None, demo, model())

    again = apply(first.state, demo, model())

    assert again.duplicate is True
    assert first.duplicate is False
    assert again.state == first.state
    assert scores_at(again.state, model(), T0).intent == 30


def test_a_redelivered_answer_or_identify_is_counted_once():
    first = final_state(journey([identify(T0, "ada@acme.com", event_id="msg-1", **ICP_FIT),
                                 answer(T0, event_id="msg-2", budget="yes")]))

    again = journey([identify(T0, "ada@acme.com", event_id="msg-1", **ICP_FIT),
                     answer(T0, event_id="msg-2", budget="yes")], state=first)

    assert [d.duplicate for d in again] == [True, True]
    assert final_state(again) == first


@pytest.mark.parametrize("others", [50, 63])
def test_a_redelivered_event_is_recognised_among_the_leads_last_64_events(others):
    demo = signal("demo_request", T0, event_id="msg-1")
    later = [signal("page_view", T0 + minute * 60) for minute in range(1, others + 1)]
    held = final_state(journey([demo, *later]))

    again = apply(held, demo, model())

    assert again.duplicate is True
    assert again.state == held


@pytest.mark.parametrize("others", [64, 100])
def test_a_redelivered_event_is_forgotten_after_64_newer_events_of_the_lead(others):
    demo = signal("demo_request", T0, event_id="msg-1")
    later = [signal("page_view", T0 + minute * 60) for minute in range(1, others + 1)]
    held = final_state(journey([demo, *later]))

    again = apply(held, demo, model())

    assert again.duplicate is False
    assert again.state.tallies["demo_request"].count == 2


def test_the_same_event_id_on_another_lead_is_not_a_duplicate():
    held = apply(None, signal("demo_request", T0, lead="lead-1", event_id="msg-1"), model()).state

    other = apply(None, signal("demo_request", T0, lead="lead-2", event_id="msg-1"), model())

    assert other.duplicate is False
    assert held.lead_id != other.state.lead_id


def test_a_redelivered_event_that_caused_a_change_re_emits_the_same_change():
    decisions = journey([*scripted_journey(), signal("page_view", T0 + days(3) + 2 * HOUR)])
    to_sql = decisions[6].change
    held = final_state(decisions)

    redelivered = apply(held, scripted_journey()[6], model())

    assert redelivered.duplicate is True
    assert redelivered.change == to_sql  # same id, same content, same sequence number
    assert redelivered.state == held


def test_a_redelivered_event_that_changed_nothing_emits_nothing():
    decisions = journey(scripted_journey())

    redelivered = apply(final_state(decisions), scripted_journey()[2], model())

    assert redelivered.duplicate is True
    assert redelivered.change is None


# -- change ids -----------------------------------------------------------------------------


def test_change_ids_are_the_same_when_the_journey_is_replayed():
    first = [c.change_id for c in changes(journey(scripted_journey()))]
    replayed = [c.change_id for c in changes(journey(scripted_journey()))]

    assert first == replayed
    assert len(set(first)) == len(first)


def test_change_ids_are_the_same_in_another_process_with_another_hash_seed():
    program = (
        "from tests.unit.builders import changes, journey, scripted_journey\n"
        "print(' '.join(c.change_id for c in changes(journey(scripted_journey()))))\n"
    )
    ids = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        run = subprocess.run([sys.executable, "-c", program], env=env, cwd=REPO,
                             capture_output=True, text=True, check=True)
        ids.append(run.stdout.split())

    assert ids[0] == ids[1] == [c.change_id for c in changes(journey(scripted_journey()))]


def test_change_ids_differ_per_lead_for_the_same_event_ids():
    def ids_for(lead):
        steps = [replace(s, lead_id=lead) for s in scripted_journey()]
        return {c.change_id for c in changes(journey(steps))}

    assert ids_for("lead-1").isdisjoint(ids_for("lead-2"))
