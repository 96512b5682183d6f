"""People a sales team knows, run through the pure core over simulated weeks (``scoring.replay``:
events, sales feedback and CRM outcomes on their own clock, demotions at their crossing times).

Each test is one story from the issue that made sales distrust the alerts; it asserts what sales
would see: the stage, the temperature, the changes and what caused them.
"""

from __future__ import annotations

from types import MappingProxyType

from scoring import Stage, Temperature
from scoring.account_timer import cool_account, next_account_change
from scoring.accounts import AccountState, Member, update_member
from scoring.arrival import apply_feedback
from scoring.feedback import Verdict
from scoring.replay import SalesVerdict, replay
from tests.unit.builders import BANT, DAY, HOUR, ICP_FIT, T0, days, event, model

MODEL = model()


def identify(at, lead, email, **traits):
    return event("identify", at, lead=lead, attributes={"email": email, **traits})


def track(name, at, lead, **properties):
    return event("track", at, lead=lead, name=name, attributes=properties)


def page(path, at, lead):
    return event("page", at, lead=lead, path=path)


def bant_confirmed(at, lead):
    """Sales' call notes: every BANT criterion confirmed, as explicit answers."""
    return track("Call Logged", at, lead, **{f"criteria.{criterion}": "met" for criterion in BANT})


def verdict(kind, at, lead):
    return SalesVerdict(feedback_id=f"fb-{lead}-{at}", lead_id=lead, verdict=kind, at=at)


def changes_of(run, lead):
    return [change for change in run.changes if change.lead_id == lead]


def test_the_vp_sales_accepted_stays_sql_until_the_inactivity_bound_then_says_so():
    vp = "vp"
    history = [
        identify(T0, vp, "vp@acme.com", **ICP_FIT),
        track("Case Study Downloaded", T0 + days(1), vp),
        track("Demo Requested", T0 + days(2), vp),
        verdict(Verdict.ACCEPTED, T0 + days(9), vp),
    ]
    bound = MODEL.sales.inactivity_bound_s
    # Intent halves every week: behaviour alone would have let it fall back within days.
    just_before = replay(history, MODEL, until=T0 + days(9) + bound - HOUR)
    assert just_before.states[vp].stage is Stage.SQL
    after = replay(history, MODEL, until=T0 + days(9) + bound + HOUR)
    assert after.states[vp].stage is not Stage.SQL
    left = [c for c in changes_of(after, vp) if c.from_stage is Stage.SQL and c.to_stage is not Stage.SQL]
    assert [(c.cause, c.event_time) for c in left] == [("inactivity", T0 + days(9) + bound)]
    accepted = [c for c in changes_of(after, vp) if c.to_stage is Stage.SQL and c.from_stage is not Stage.SQL]
    assert [(c.cause, c.cause_detail) for c in accepted] == [("feedback", "accepted")]


def test_a_won_deal_ends_the_sql_and_the_change_says_it_was_the_deal():
    lead = "closer"
    history = [
        identify(T0, lead, "ann@acme.com", **ICP_FIT),
        track("Opportunity Created", T0 + days(1), lead),
        track("Deal Won", T0 + days(20), lead),
    ]
    run = replay(history, MODEL, until=T0 + days(21))
    assert [(c.to_stage, c.cause, c.cause_detail) for c in changes_of(run, lead) if Stage.SQL in (c.from_stage, c.to_stage)] == [
        (Stage.SQL, "outcome", "opportunity"), (run.states[lead].stage, "outcome", "won")]
    assert run.states[lead].stage is not Stage.SQL


def test_the_ceo_who_confirmed_bant_on_a_call_is_sql_without_any_web_behaviour():
    ceo = "ceo"
    history = [identify(T0, ceo, "ceo@acme.com", **{**ICP_FIT, "title": "CEO"}), bant_confirmed(T0 + HOUR, ceo)]
    run = replay(history, MODEL, until=T0 + days(14))
    assert run.states[ceo].stage is Stage.SQL


def test_bant_answered_with_an_unknown_fit_is_not_sql_but_needs_enrichment():
    lead = "anon-ceo"
    run = replay([identify(T0, lead, "x@acme.com"), bant_confirmed(T0 + HOUR, lead)], MODEL, until=T0 + DAY)
    assert run.states[lead].stage is not Stage.SQL
    assert run.states[lead].needs_enrichment


def test_the_rejected_lead_viewing_pricing_once_is_not_hot_and_alerts_nobody():
    lead = "rejected"
    before = [
        identify(T0, lead, "ray@acme.com", **ICP_FIT),
        track("Case Study Downloaded", T0 + days(1), lead),
        track("Demo Requested", T0 + days(1) + HOUR, lead),
        bant_confirmed(T0 + days(1) + 2 * HOUR, lead),
        verdict(Verdict.REJECTED, T0 + days(3), lead),
    ]
    assert replay(before[:-1], MODEL, until=T0 + days(2)).states[lead].temperature is Temperature.HOT
    pricing = [*before, page("/pricing", T0 + days(4), lead)]
    run = replay(pricing, MODEL, until=T0 + days(5))
    assert run.states[lead].temperature is not Temperature.HOT
    after_rejection = [c for c in changes_of(run, lead) if c.event_time > T0 + days(3)]
    # The alert rules fire on entering hot or SQL: no change after the rejection enters either.
    assert not [c for c in after_rejection if c.to_temperature is Temperature.HOT or c.to_stage is Stage.SQL]
    # Even once the cooldown is over, one pricing view is not the new intent it takes.
    assert replay(pricing, MODEL, until=T0 + days(40)).states[lead].temperature is not Temperature.HOT


def test_a_rejected_lead_turns_hot_again_when_the_cooldown_ends_after_real_new_intent():
    lead = "comeback"
    history = [
        identify(T0, lead, "cat@acme.com", **ICP_FIT),
        bant_confirmed(T0 + HOUR, lead),
        verdict(Verdict.REJECTED, T0 + days(1), lead),
        track("Case Study Downloaded", T0 + days(20), lead),
        track("Demo Requested", T0 + days(25), lead),
        page("/pricing", T0 + days(26), lead),
    ]
    cooldown_ends = T0 + days(1) + MODEL.sales.rejection_cooldown_s
    assert replay(history, MODEL, until=cooldown_ends - HOUR).states[lead].temperature is not Temperature.HOT
    run = replay(history, MODEL, until=cooldown_ends + HOUR)
    assert run.states[lead].temperature is Temperature.HOT
    assert [(c.cause, c.event_time) for c in changes_of(run, lead) if c.to_temperature is Temperature.HOT] == [
        ("cooldown", cooldown_ends)]


def test_the_trial_user_with_no_profile_is_pql_and_needs_enrichment():
    lead = "trial"
    history = [identify(T0, lead, "dev@startup.io"), track("Trial Started", T0 + HOUR, lead)]
    history += [track("Feature Used", T0 + days(1) + n * HOUR, lead) for n in range(8)]
    run = replay(history, MODEL, until=T0 + days(2))
    assert run.states[lead].stage is Stage.PQL
    assert run.states[lead].needs_enrichment
    into_pql = [c for c in changes_of(run, lead) if c.to_stage is Stage.PQL and c.from_stage is not Stage.PQL]
    assert [c.needs_enrichment for c in into_pql] == [True]


def test_a_student_binge_reading_the_blog_never_becomes_mql():
    student = "student"
    history = [identify(T0, student, "sam.student@gmail.com", title="Student")]
    history += [page(f"/blog/post-{n}", T0 + n * 4 * HOUR, student) for n in range(1, 120)]
    run = replay(history, MODEL, until=T0 + days(21))
    assert Stage.MQL not in run.states[student].reached
    assert not [c for c in changes_of(run, student) if c.to_stage is Stage.MQL]


def test_a_new_address_after_a_hard_bounce_requalifies_the_lead():
    lead = "mover"
    history = [
        identify(T0, lead, "old@acme.com", **ICP_FIT),
        track("Email Hard Bounced", T0 + days(1), lead),
    ]
    assert replay(history, MODEL, until=T0 + days(2)).states[lead].stage is Stage.DISQUALIFIED
    # Whatever order the two arrive in.
    assert replay(history[::-1], MODEL, until=T0 + days(2)).states[lead].stage is Stage.DISQUALIFIED
    history += [identify(T0 + days(5), lead, "new@acme.com"), bant_confirmed(T0 + days(5) + HOUR, lead)]
    assert replay(history, MODEL, until=T0 + days(6)).states[lead].stage is Stage.SQL


def test_the_silent_committees_account_cools_on_the_timer():
    rules, half_lives = MODEL.accounts, MODEL.half_life_seconds
    account = AccountState("acme.com")
    for n, lead in enumerate(("ana", "ben", "cy", "dee")):
        member = Member(lead_id=lead, interest=40.0, intent=30.0, as_of=T0 + days(n + 1), role=None,
                        criteria_met=frozenset(), cause_event_id=f"{lead}-last")
        account, _ = update_member(account, member, lead, half_lives, rules)
    assert account.temperature is Temperature.HOT
    # Nobody speaks from day 4 on: the timer alone cools the account, one rung at a time.
    moves = []
    while (due := next_account_change(account, half_lives, rules)) is not None and due < T0 + days(80):
        account, change = cool_account(account, due, half_lives, rules)
        if change is not None:
            moves.append((change.from_temperature, change.to_temperature))
    assert moves == [(Temperature.HOT, Temperature.WARM), (Temperature.WARM, Temperature.COLD)]
    assert account.temperature is Temperature.COLD
    assert isinstance(account.members, MappingProxyType)


def test_sales_latest_word_holds_when_a_recycle_and_an_acceptance_share_one_instant():
    lead = "vp"
    journey = replay([identify(T0, lead, "vp@acme.com", **ICP_FIT), track("Demo Requested", T0 + HOUR, lead),
                      verdict(Verdict.ACCEPTED, T0 + 2 * HOUR, lead)], MODEL, until=T0 + 2 * HOUR)
    at = T0 + 3 * HOUR  # a worker whose clock stands still stamps every verdict with this time
    recycled = apply_feedback(journey.states[lead], Verdict.RECYCLE, at, "fb-recycle", MODEL)
    back = apply_feedback(recycled.state, Verdict.ACCEPTED, at, "fb-back", MODEL)
    again = apply_feedback(back.state, Verdict.RECYCLE, at, "fb-again", MODEL)

    assert recycled.state.stage is Stage.RECYCLED
    assert (back.state.stage, back.change.cause, back.change.cause_detail) == (Stage.SQL, "feedback", "accepted")
    assert again.state.stage is Stage.RECYCLED
