"""Weak leads come due for another look on a schedule (``scoring.revisit``), through the pure core over
simulated months: ``scoring.replay`` runs the lead timer (demotions and revisits) on the events' own clock.

Each test asserts what marketing would see: which leads come due, when, why, and how often.
"""

from __future__ import annotations

import pytest

from scoring import ModelError, Stage, Temperature
from scoring.feedback import Verdict
from scoring.replay import SalesVerdict, replay
from scoring.revisit import apply_revisit, awaiting_revisit, next_due, next_revisit
from scoring.switch import reclassify_under
from streams.ops.reports import side_by_side
from tests.unit.builders import DAY, HOUR, ICP_FIT, T0, event, model, model_text, model_with

MODEL = model()
INTERVAL = 90 * DAY  # the shipped [revisit] after_days


def identify(at, lead, email, **traits):
    return event("identify", at, lead=lead, attributes={"email": email, **traits})


def track(name, at, lead):
    return event("track", at, lead=lead, name=name, attributes={})


def revisits(run, lead):
    return [change for change in run.changes if change.lead_id == lead and change.cause == "revisit"]


def engaged_then_silent(lead, email="vp@acme.com", **traits):
    """An ideal-fit VP who reads, attends a webinar and looks at pricing within a day, then goes quiet."""
    return [
        identify(T0, lead, email, **(traits or ICP_FIT)),
        track("Case Study Downloaded", T0 + HOUR, lead),
        track("Webinar Attended", T0 + 2 * HOUR, lead),
        track("Whitepaper Downloaded", T0 + 3 * HOUR, lead),
        event("page", T0 + 4 * HOUR, lead=lead, path="/pricing"),
    ]


def test_a_good_fit_lead_that_cooled_and_was_recycled_comes_due_once_after_the_interval():
    run = replay(engaged_then_silent("vp"), MODEL, until=T0 + 4 * HOUR + INTERVAL + DAY)
    state = run.states["vp"]
    assert state.stage is Stage.RECYCLED  # it was MQL, decay sent it back to nurturing

    [due] = revisits(run, "vp")
    assert due.event_time == T0 + 4 * HOUR + INTERVAL  # an interval after its last own event
    assert due.cause_detail == "recycled"
    assert (due.from_stage, due.to_stage, due.from_temperature, due.to_temperature) == (
        Stage.RECYCLED, Stage.RECYCLED, Temperature.COLD, Temperature.COLD)
    assert due.sequence == state.sequence and due.scores.fit == 100
    assert awaiting_revisit(state, MODEL)


def test_left_alone_it_comes_due_again_every_interval_and_never_twice_for_one_due_time():
    run = replay([identify(T0, "cio", "cio@acme.com", **ICP_FIT)], MODEL, until=T0 + 3 * INTERVAL + DAY)
    assert [c.event_time for c in revisits(run, "cio")] == [T0 + INTERVAL, T0 + 2 * INTERVAL, T0 + 3 * INTERVAL]
    assert {c.cause_detail for c in revisits(run, "cio")} == {"cold"}  # an IQL that never warmed up
    assert len({c.change_id for c in run.changes}) == len(run.changes)

    state = run.states["cio"]
    again = apply_revisit(state, state.revisited_at, MODEL)  # the same due time, asked again
    assert again.duplicate and again.state == state and again.change == revisits(run, "cio")[-1]


def test_a_poor_fit_or_still_warm_lead_never_comes_due():
    student = [identify(T0, "kid", "kid@gmail.com", title="Student", country="KP")]
    run = replay(student, MODEL, until=T0 + 2 * INTERVAL)
    assert revisits(run, "kid") == [] and next_revisit(run.states["kid"], MODEL) is None

    warm = replay(engaged_then_silent("busy"), MODEL, until=T0 + 5 * HOUR)
    assert warm.states["busy"].temperature is Temperature.WARM
    assert next_revisit(warm.states["busy"], MODEL) is None  # only once it cools


def test_its_own_event_takes_it_off_the_queue_and_starts_the_interval_again():
    history = [identify(T0, "cio", "cio@acme.com", **ICP_FIT)]
    first = replay(history, MODEL, until=T0 + INTERVAL + DAY)
    assert awaiting_revisit(first.states["cio"], MODEL)

    back = T0 + INTERVAL + 2 * DAY
    run = replay([*history, event("page", back, lead="cio", path="/blog/news")], MODEL, until=back + DAY)
    assert not awaiting_revisit(run.states["cio"], MODEL)
    assert next_revisit(run.states["cio"], MODEL) == back + INTERVAL
    later = replay([*history, event("page", back, lead="cio", path="/blog/news")], MODEL, until=back + INTERVAL + DAY)
    assert [c.event_time for c in revisits(later, "cio")] == [T0 + INTERVAL, back + INTERVAL]


def test_a_lead_sales_rejected_is_due_an_interval_after_the_rejection_and_not_within_its_cooldown():
    history = [*engaged_then_silent("vp"),
               SalesVerdict("fb-1", "vp", Verdict.REJECTED, T0 + 10 * DAY)]
    run = replay(history, MODEL, until=T0 + 10 * DAY + INTERVAL + DAY)
    assert [c.event_time for c in revisits(run, "vp")] == [T0 + 10 * DAY + INTERVAL]

    short = model_with(("after_days = 90", "after_days = 7"))  # shorter than the 30-day cooldown
    run = replay(history, short, until=T0 + 60 * DAY)
    assert revisits(run, "vp")[0].event_time == T0 + 10 * DAY + short.sales.rejection_cooldown_s


def test_the_lead_timer_serves_both_the_earlier_of_demotion_and_revisit():
    run = replay(engaged_then_silent("vp"), MODEL, until=T0 + 5 * HOUR)
    state = run.states["vp"]
    assert next_due(state, MODEL) is not None and next_revisit(state, MODEL) is None  # warm: a demotion first
    cold = replay([identify(T0, "cio", "cio@acme.com", **ICP_FIT)], MODEL, until=T0 + DAY).states["cio"]
    assert next_due(cold, MODEL) == next_revisit(cold, MODEL) == T0 + INTERVAL


def test_a_model_without_revisit_settings_revisits_nothing_and_bad_settings_name_their_field():
    without = model_with(("[revisit]\nafter_days = 90\nfit_minimum = 50\n", ""))
    assert without.revisit is None
    run = replay([identify(T0, "cio", "cio@acme.com", **ICP_FIT)], without, until=T0 + 2 * INTERVAL)
    assert revisits(run, "cio") == []

    for edit, field in ((("after_days = 90", "after_days = 0"), "revisit.after_days"),
                        (("fit_minimum = 50", "fit_minimum = 120"), "revisit.fit_minimum"),
                        (("fit_minimum = 50", "fit_minimum = \"high\""), "revisit.fit_minimum"),
                        (("after_days = 90", "after_days = 90\nevery = 3"), "revisit.every")):
        with pytest.raises(ModelError, match=field.replace(".", r"\.")):
            model_with(edit)
    assert "[revisit]" in model_text()  # the shipped model revisits


def test_a_revisit_is_remembered_through_whatever_reclassifies_the_lead_later():
    run = replay([identify(T0, "cio", "cio@acme.com", **ICP_FIT)], MODEL, until=T0 + INTERVAL + DAY)
    revisited = run.states["cio"]
    assert revisited.revisited_at == T0 + INTERVAL
    # A new model rolled out re-classifies every lead: the revisit made stays made.
    switched = reclassify_under(revisited, model_with(('version = "default-3"', 'version = "default-3b"')),
                                "model:default-3b@7").state
    assert switched.revisited_at == T0 + INTERVAL
    assert next_revisit(switched, MODEL) == T0 + 2 * INTERVAL


def test_a_lead_that_cools_after_the_interval_has_passed_is_due_the_moment_it_cools():
    weekly = model_with(("after_days = 90", "after_days = 7"))
    run = replay(engaged_then_silent("vp"), weekly, until=T0 + 200 * DAY)
    cooled = next(c for c in run.changes if c.lead_id == "vp" and c.from_temperature is Temperature.WARM
                  and c.to_temperature is Temperature.COLD)
    assert cooled.event_time > T0 + 7 * DAY  # it stayed warm past the interval
    first = revisits(run, "vp")[0]
    assert first.event_time == cooled.event_time  # not back-dated to before it was cold
    assert first.sequence == cooled.sequence + 1


def test_replays_report_counts_revisits_apart_from_the_changes_that_move_a_lead():
    run = replay([identify(T0, "cio", "cio@acme.com", **ICP_FIT)], MODEL, until=T0 + INTERVAL + DAY)
    table = {line[:42].strip(): line[42:].split() for line in side_by_side(run, run, MODEL, MODEL).splitlines()}
    assert table["qualification changes"] == ["1", "1"]  # new → IQL; the revisit moved nothing
    assert table["revisits due"] == ["1", "1"]
