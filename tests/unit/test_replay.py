"""replay(): history re-scored on the events' own clock, with outcomes joined to stage history."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from msgspec.structs import replace

from scoring import HoldLimits, Stage, Temperature, Verdict
from scoring.changes import change_id
from scoring.kinds import DealOutcome
from scoring.outcomes import conversion, stage_verdict
from scoring.replay import SalesVerdict, replay
from tests.unit.builders import BANT_MET, HOUR, ICP_FIT, T0, days, event, model


def hot_then_quiet(lead: str = "lead-1", start: float = T0) -> list:
    """Identify, engage, confirm BANT and ask for a demo within a day: an SQL, hot; then nothing for weeks."""
    return [
        event("identify", start, lead, f"{lead}-id", attributes={"email": f"{lead}@acme.com", **ICP_FIT}),
        event("track", start + HOUR, lead, f"{lead}-webinar", name="Webinar Attended"),
        event("track", start + 2 * HOUR, lead, f"{lead}-case", name="Case Study Downloaded"),
        event("track", start + 3 * HOUR, lead, f"{lead}-bant", name="Form Submitted",
              attributes={f"criteria.{k}": v for k, v in BANT_MET.items()}),
        event("track", start + 4 * HOUR, lead, f"{lead}-demo", name="Demo Requested"),
        event("page", start + 5 * HOUR, lead, f"{lead}-pricing", path="/pricing"),
    ]


def moves(changes) -> list[tuple]:
    return [(c.from_stage, c.to_stage, c.from_temperature, c.to_temperature, c.cause) for c in changes]


def test_demotions_due_before_a_later_event_are_applied_at_their_crossing_times_before_it():
    history = [*hot_then_quiet(), event("page", T0 + days(40), "lead-1", "lead-1-back", path="/blog/x")]

    replayed = replay(history, model())

    decays = [c for c in replayed.changes if c.cause == "decay"]
    assert moves(replayed.changes) == [
        (Stage.NEW, Stage.IQL, Temperature.COLD, Temperature.COLD, "event"),
        (Stage.IQL, Stage.MQL, Temperature.COLD, Temperature.COLD, "event"),
        # BANT confirmed, fit known and good: sales-qualified, and warm (need identified)
        (Stage.MQL, Stage.SQL, Temperature.COLD, Temperature.WARM, "event"),
        (Stage.SQL, Stage.SQL, Temperature.WARM, Temperature.HOT, "event"),
        # Intent fades: no longer hot, but sales' SQL holds within the eight-week inactivity bound.
        (Stage.SQL, Stage.SQL, Temperature.HOT, Temperature.WARM, "decay"),
    ]
    assert all(T0 + 5 * HOUR < c.event_time < T0 + days(40) for c in decays)
    assert [c.change_id for c in decays] == [change_id("lead-1", f"decay:{c.event_time!r}") for c in decays]
    assert [c.sequence for c in replayed.changes] == list(range(1, len(replayed.changes) + 1))


def test_without_until_nothing_decays_after_the_last_record_and_with_it_everything_due_does():
    quiet = replay(hot_then_quiet(), model())
    cooled = replay(hot_then_quiet(), model(), until=T0 + days(60))

    assert quiet.states["lead-1"].stage is Stage.SQL
    assert cooled.states["lead-1"].stage is Stage.RECYCLED
    assert cooled.changes[: len(quiet.changes)] == quiet.changes


def test_a_leads_replay_does_not_depend_on_the_other_leads_interleaved_with_it():
    alone = replay(hot_then_quiet("a"), model(), until=T0 + days(30))
    interleaved = [e for pair in zip(hot_then_quiet("a"), hot_then_quiet("b", T0 + HOUR / 2)) for e in pair]
    together = replay(interleaved, model(), until=T0 + days(30))

    assert [c for c in together.changes if c.lead_id == "a"] == list(alone.changes)


def test_erased_leads_are_skipped_entirely():
    replayed = replay([*hot_then_quiet("kept"), *hot_then_quiet("gone")], model(), erased=frozenset({"gone"}))

    assert set(replayed.states) == {"kept"}
    assert {c.lead_id for c in replayed.changes} == {"kept"}
    assert replayed.counted["erased"] == 6


def test_a_redelivered_event_is_deduplicated_as_live_does():
    history = hot_then_quiet()
    replayed = replay([*history, history[-1]], model())

    assert replayed.counted["deduplicated"] == 1
    assert replayed.counted["scored"] == 6


def test_sales_feedback_in_the_history_recycles_the_lead_as_the_live_worker_does():
    history = [*hot_then_quiet(), SalesVerdict("fb-1", "lead-1", Verdict.REJECTED, T0 + 6 * HOUR)]

    replayed = replay(history, model())

    last = replayed.changes[-1]
    assert (last.to_stage, last.cause, last.cause_event_id) == (Stage.RECYCLED, "feedback", "fb-1")


def outcome(lead: str, name: str, at: float, event_id: str | None = None):
    return event("track", at, lead, event_id or f"{lead}-{name}", name=name)


def test_outcomes_join_the_stage_history_as_it_stood_when_they_arrived():
    history = [
        *hot_then_quiet("winner"),
        outcome("winner", "Opportunity Created", T0 + days(2)),
        outcome("winner", "Deal Won", T0 + days(35)),
        outcome("winner", "Deal Won", T0 + days(35)),  # redelivered: counts once
        event("identify", T0, "loser", "loser-id", attributes={"email": "l@acme.com", **ICP_FIT}),
        event("page", T0 + HOUR, "loser", "loser-blog", path="/blog/a"),
        outcome("loser", "Deal Lost", T0 + days(9)),
        outcome("stranger", "Deal Lost", T0 + days(9)),  # never scored: joins nothing
    ]

    replayed = replay(history, model())

    won = [j for j in replayed.outcomes if j.outcome is DealOutcome.WON]
    assert len(won) == 1 and len(replayed.outcomes) == 4
    # Sales accepted it with the opportunity on day 2: still SQL when the deal closed on day 35.
    assert won[0].reached >= {Stage.IQL, Stage.MQL, Stage.SQL}
    assert won[0].stage is Stage.SQL and won[0].hottest is Temperature.HOT
    # ... and the won deal ended its SQL, the change saying so.
    [closed] = [c for c in replayed.changes if c.lead_id == "winner" and c.cause == "outcome"]
    assert (closed.from_stage, closed.cause_detail, closed.event_time) == (Stage.SQL, "won", T0 + days(35))
    assert won[0].counts["demo_request"] > 0.99  # as of its last scored event, not day 30
    table = conversion(replayed.outcomes)
    assert (table.overall.opportunities, table.overall.won, table.overall.lost) == (1, 1, 2)
    assert table.by_stage[Stage.SQL].win_rate == 1.0
    assert table.by_stage[Stage.IQL].win_rate == 0.5
    assert table.by_temperature[Temperature.COLD].lost == 1
    assert table.by_signal["blog_view"].win_rate == 0.0
    verdict = stage_verdict(replayed.outcomes)
    assert (verdict.won_reached, verdict.lost_reached, verdict.won_missed) == (1, 0, 0)
    assert replayed.counted["ignored:outcome_only"] == 5


def test_replay_is_deterministic_and_its_states_are_read_only():
    history = [*hot_then_quiet("a"), *hot_then_quiet("b", T0 + days(3))]

    assert replay(history, model(), until=T0 + days(50)) == replay(history, model(), until=T0 + days(50))
    assert isinstance(replay(history, model()).states, MappingProxyType)


def visits(visitor: str, start: float, count: int = 3) -> list:
    return [event("page", start + n * HOUR, visitor, f"{visitor}-{n}", anonymous=True, path="/pricing")
            for n in range(count)]


def identifies(lead: str, visitor: str, at: float):
    return event("identify", at, lead, f"{lead}-id", visitor_id=visitor, attributes={"email": f"{lead}@acme.com"})


def test_a_visitors_visits_before_identify_count_for_the_lead_as_if_it_had_been_known_all_along():
    later = event("page", T0 + days(1) + HOUR, "v-1", "v-1-later", anonymous=True, path="/pricing")
    stitched = replay([*visits("v-1", T0), identifies("lead-1", "v-1", T0 + days(1)), later], model())
    known = replay([*(replace(e, lead_id="lead-1", anonymous=False) for e in [*visits("v-1", T0), later])],
                   model())

    assert set(stitched.states) == {"lead-1"}  # no visitor is scored as a lead of its own
    tally, expected = (run.states["lead-1"].tallies["pricing_view"] for run in (stitched, known))
    assert (tally.count, tally.last_at, tally.decayed) == (4, expected.last_at, pytest.approx(expected.decayed))
    assert (stitched.counted["scored"], stitched.counted["held"]) == (5, 0)  # 3 released, identify, later


def test_a_visitor_never_identified_stays_held_and_one_unseen_for_the_ttl_is_forgotten():
    hold = HoldLimits(max_events=100, ttl_s=days(30))
    never = replay(visits("v-1", T0), model(), hold=hold)
    expired = replay([*visits("v-1", T0), identifies("lead-1", "v-1", T0 + days(40))], model(), hold=hold)

    assert (dict(never.states), never.changes, never.counted["held"]) == ({}, (), 3)
    assert expired.counted["ignored:expired_anonymous"] == 3 and expired.counted["held"] == 0
    assert "pricing_view" not in expired.states["lead-1"].tallies
    assert replay(visits("v-1", T0), model(), until=T0 + days(31), hold=hold).counted["held"] == 0


def test_an_erased_leads_visits_from_before_identify_are_not_scored_either():
    history = [*visits("v-1", T0), identifies("gone", "v-1", T0 + days(1))]
    replayed = replay(history, model(), erased=frozenset({"gone"}))

    assert dict(replayed.states) == {} and replayed.changes == ()
