"""Qualification journeys through apply(): stages, temperatures, criteria, fit and disqualifiers."""

from __future__ import annotations

import pytest

from scoring import Stage, Status, Temperature, scores_at
from scoring.changes import Scores
from scoring.qualification import Levels, next_levels
from tests.unit.builders import (
    BANT,
    BANT_MET,
    HOUR,
    ICP_FIT,
    ICP_FIT_REASONS,
    MEDDIC,
    T0,
    answer,
    changes,
    days,
    final_state,
    identify,
    journey,
    meddic_model,
    model,
    signal,
    transitions,
)

CONTENT = ["blog_view", "product_view", "case_study_download", "whitepaper_download", "webinar_attended",
           "email_click", "email_reply", "referral", "positive_review", "survey_answer"]


def fitting_lead(at: float = T0, email: str = "ada@acme.com"):
    return identify(at, email, **ICP_FIT)


def engaged(start: float):
    """Enough content for the MQL rung (interest ≈ 30)."""
    return [signal("case_study_download", start), signal("webinar_attended", start + HOUR)]


def buying(start: float):
    """Enough intent for the SQL rung (intent ≈ 40)."""
    return [signal("pricing_view", start), signal("demo_request", start + HOUR)]


def qualified_but_unconfirmed():
    """A fitting lead with need and authority stated, engaged, showing intent: budget and timeline unknown."""
    return [fitting_lead(), answer(T0, need="yes", authority="yes"), *engaged(T0 + HOUR), *buying(T0 + 3 * HOUR)]


def confirmed():
    return answer(T0 + 5 * HOUR, budget="$40k", timeline="this quarter")


def stages(decisions):
    return [d.state.stage for d in decisions]


def at_latest(decisions):
    state = final_state(decisions)
    return scores_at(state, model(), state.as_of)


# -- interest, intent and caps --------------------------------------------------------------


def test_a_lead_reading_content_but_never_showing_intent_stops_at_mql():
    reading = [signal(CONTENT[n % len(CONTENT)], T0 + HOUR * (n + 1)) for n in range(80)]

    decisions = journey([fitting_lead(), *reading])

    assert set(stages(decisions)) == {Stage.IQL, Stage.MQL}
    assert stages(decisions)[-60:] == [Stage.MQL] * 60  # many more content events: still MQL
    assert Temperature.HOT not in {d.state.temperature for d in decisions}
    assert at_latest(decisions).intent == 0


def test_fifty_blog_views_do_not_outscore_one_demo_request():
    reader = journey([signal("blog_view", T0 + minute * 60, lead="reader") for minute in range(50)])
    buyer = journey([signal("demo_request", T0, lead="buyer")])
    at = T0 + HOUR

    reader_scores = scores_at(final_state(reader), model(), at)
    buyer_scores = scores_at(final_state(buyer), model(), at)

    assert reader_scores.interest == model().rule("blog_view").cap == 10
    assert reader_scores.engagement < buyer_scores.engagement
    assert buyer_scores.intent == pytest.approx(30 * 2 ** (-HOUR / days(7)))


def test_intent_without_content_is_not_hot():
    decisions = journey([fitting_lead(), answer(T0, **BANT_MET), *buying(T0 + HOUR)])

    assert (final_state(decisions).stage, final_state(decisions).temperature) == (Stage.SQL, Temperature.WARM)
    assert at_latest(decisions).interest < model().qualification.ladders.hot.promote


# -- criteria: warm, hot, SQL ----------------------------------------------------------------


def test_a_lead_with_intent_but_unknown_budget_and_timeline_is_warm_not_hot():
    decisions = journey(qualified_but_unconfirmed())
    state = final_state(decisions)

    assert state.levels.sql == 1  # enough intent
    assert (state.stage, state.temperature) == (Stage.MQL, Temperature.WARM)
    assert changes(decisions)[-1].criteria == {"budget": Status.UNKNOWN, "authority": Status.MET,
                                               "need": Status.MET, "timeline": Status.UNKNOWN}


def test_the_same_lead_turns_hot_and_sql_when_answers_confirm_budget_and_timeline():
    answers = confirmed()
    decisions = journey([*qualified_but_unconfirmed(), answers])
    last = decisions[-1].change

    assert (last.from_stage, last.to_stage, last.from_temperature, last.to_temperature) == (
        Stage.MQL, Stage.SQL, Temperature.WARM, Temperature.HOT)
    assert last.criteria == dict.fromkeys(BANT, Status.MET)
    assert last.cause_event_id == answers.event_id


def test_a_not_met_criterion_keeps_an_engaged_lead_out_of_sql():
    decisions = journey([*qualified_but_unconfirmed(), answer(T0 + 5 * HOUR, budget="yes", timeline="no")])

    assert (final_state(decisions).stage, final_state(decisions).temperature) == (Stage.MQL, Temperature.WARM)


def test_under_meddic_the_bant_confirmed_lead_lists_the_six_meddic_criteria_and_is_not_sql():
    decisions = journey([*qualified_but_unconfirmed(), confirmed()], meddic_model())
    state = final_state(decisions)

    assert state.stage is not Stage.SQL and state.temperature is not Temperature.HOT
    assert changes(decisions)
    for change in changes(decisions):
        assert change.framework == "meddic"
        assert tuple(change.criteria) == MEDDIC
        assert set(change.criteria.values()) == {Status.UNKNOWN}


def test_a_need_with_at_most_two_criteria_missing_is_warm_without_any_engagement():
    two_missing = journey([fitting_lead(), answer(T0, need="yes", authority="yes")])
    three_missing = journey([fitting_lead(), answer(T0, need="yes")])
    no_need = journey([fitting_lead(), answer(T0, budget="yes", authority="yes", timeline="yes", need="no")])

    assert final_state(two_missing).temperature is Temperature.WARM
    assert final_state(three_missing).temperature is Temperature.COLD
    assert final_state(no_need).temperature is Temperature.COLD


# -- disqualification and negative signals -------------------------------------------------------


def test_a_competitor_domain_lead_is_disqualified_whatever_it_does():
    decisions = journey([
        fitting_lead(email="spy@rivalscore.com"), answer(T0, **BANT_MET),
        *engaged(T0 + HOUR), *buying(T0 + 3 * HOUR), signal("trial_signup", T0 + 5 * HOUR),
    ])

    assert set(stages(decisions)) == {Stage.DISQUALIFIED}
    assert {d.state.temperature for d in decisions} == {Temperature.COLD}
    (change,) = changes(decisions)
    assert (change.from_stage, change.to_stage, change.disqualified_by) == (
        Stage.NEW, Stage.DISQUALIFIED, ("competitor",))


def test_an_unsubscribe_lowers_engagement_but_leaves_interest_and_intent_untouched():
    before = journey(qualified_but_unconfirmed())
    at = final_state(before).as_of
    after = journey([signal("email_unsubscribe", at)], state=final_state(before))

    was, now = scores_at(final_state(before), model(), at), scores_at(final_state(after), model(), at)

    assert (now.interest, now.intent, now.fit) == (was.interest, was.intent, was.fit)
    assert (was.negative, now.negative) == (0, 20)
    assert now.engagement == pytest.approx(was.engagement - 20)


def test_negative_signals_are_capped_too():
    decisions = journey([signal("email_bounce", T0 + minute * 60) for minute in range(10)])

    assert at_latest(decisions).negative == model().rule("email_bounce").cap == 15


def test_enough_negative_signals_cool_a_warm_lead():
    decisions = journey([fitting_lead(), *engaged(T0 + HOUR), signal("pricing_view", T0 + 2 * HOUR),
                         signal("email_unsubscribe", T0 + 3 * HOUR)])

    assert [d.state.temperature for d in decisions[-2:]] == [Temperature.WARM, Temperature.COLD]
    assert final_state(decisions).stage is Stage.MQL  # interest is untouched: still marketing-qualified


def test_a_hard_bounce_disqualifies():
    decisions = journey([fitting_lead(), *engaged(T0 + HOUR), signal("email_hard_bounce", T0 + 2 * HOUR),
                         *buying(T0 + 3 * HOUR)])
    bounced = decisions[3].change

    assert (bounced.from_stage, bounced.to_stage, bounced.to_temperature) == (
        Stage.MQL, Stage.DISQUALIFIED, Temperature.COLD)
    assert bounced.disqualified_by == ("signal email_hard_bounce",)
    assert (final_state(decisions).stage, final_state(decisions).temperature) == (
        Stage.DISQUALIFIED, Temperature.COLD)


# -- product-qualified leads --------------------------------------------------------------------


def test_trial_signup_and_feature_use_make_a_fitting_lead_pql():
    usage = [signal("trial_signup", T0 + HOUR), *(signal("feature_used", T0 + HOUR * (2 + n)) for n in range(3))]

    fitting = journey([fitting_lead(), *usage])
    not_fitting = journey([identify(T0, "ada@gmail.com"), *usage])

    assert final_state(fitting).stage is Stage.PQL
    assert at_latest(fitting).product == pytest.approx(at_latest(fitting).intent)
    assert at_latest(fitting).product >= model().qualification.ladders.pql.promote
    assert final_state(not_fitting).stage is Stage.IQL


def test_a_pql_that_confirms_every_criterion_becomes_sql():
    usage = [signal("trial_signup", T0 + HOUR), *(signal("feature_used", T0 + HOUR * (2 + n)) for n in range(3))]

    decisions = journey([fitting_lead(), *usage, answer(T0 + 6 * HOUR, **BANT_MET)])

    assert transitions(decisions)[-1][:2] == (Stage.PQL, Stage.SQL)


def test_content_alone_earns_no_product_points():
    decisions = journey([fitting_lead(), *engaged(T0 + HOUR), *buying(T0 + 3 * HOUR)])

    assert at_latest(decisions).product == 0
    assert final_state(decisions).stage is Stage.MQL


# -- cooling and recycling ---------------------------------------------------------------------


def test_an_sql_whose_intent_decays_is_recycled_when_its_next_event_arrives_and_can_become_mql_again():
    sql = journey([*qualified_but_unconfirmed(), confirmed()])
    assert final_state(sql).stage is Stage.SQL
    # Past sales' inactivity bound (eight weeks): intent and interest have decayed below their demote thresholds too.
    silence = T0 + days(70)

    cooled = journey([signal("blog_view", silence), signal("blog_view", silence + HOUR)], state=final_state(sql))
    again = journey(engaged(silence + 2 * HOUR), state=final_state(cooled))

    assert scores_at(final_state(cooled), model(), silence).intent < model().qualification.ladders.sql.demote
    assert stages(cooled) == [Stage.RECYCLED, Stage.RECYCLED]
    assert (changes(cooled)[0].from_stage, changes(cooled)[0].to_stage) == (Stage.SQL, Stage.RECYCLED)
    assert stages(again)[-1] is Stage.MQL
    assert (changes(again)[-1].from_stage, changes(again)[-1].to_stage) == (Stage.RECYCLED, Stage.MQL)


def test_a_recycled_lead_with_little_interest_stays_recycled_not_iql():
    sql = final_state(journey([*qualified_but_unconfirmed(), confirmed()]))

    decisions = journey([signal("page_view", T0 + days(60 + n)) for n in range(5)], state=sql)

    assert set(stages(decisions)) == {Stage.RECYCLED}


# -- fit ---------------------------------------------------------------------------------------


def test_a_lead_whose_fit_is_below_the_minimum_is_never_mql_however_engaged_but_can_be_warm():
    reading = [signal(CONTENT[n % len(CONTENT)], T0 + HOUR * (n + 1)) for n in range(30)]

    decisions = journey([identify(T0, "ada@gmail.com", title="Marketing Manager"), *reading,
                         *buying(T0 + days(2))])

    assert at_latest(decisions).fit < model().fit.mql_minimum
    assert set(stages(decisions)) == {Stage.IQL}
    assert final_state(decisions).levels.mql == 1
    assert final_state(decisions).temperature is Temperature.WARM


def test_a_lead_exactly_at_the_fit_minimum_can_be_mql():
    decisions = journey([identify(T0, "ada@acme.com", country="US"), *engaged(T0 + HOUR)])  # 20 points

    assert at_latest(decisions).fit == model().fit.mql_minimum
    assert final_state(decisions).stage is Stage.MQL


def test_an_engaged_lead_with_no_profile_yet_is_mql_and_needs_enrichment_until_it_states_one():
    decisions = journey([identify(T0, "ada@acme.com"), *engaged(T0 + HOUR),
                         signal(None, T0 + days(1), profile=ICP_FIT)])

    # Unknown fit is neutral at the MQL gate, not a bad fit: engagement alone makes the MQL ...
    assert stages(decisions) == [Stage.IQL, Stage.IQL, Stage.MQL, Stage.MQL]
    assert [d.state.needs_enrichment for d in decisions] == [False, False, True, False]


def test_an_engaged_lead_whose_stated_profile_does_not_fit_is_never_mql():
    decisions = journey([identify(T0, "ada@acme.com", industry="Mining", employees=10_000, country="BR",
                                  title="Intern"), *engaged(T0 + HOUR)])

    assert set(stages(decisions)) == {Stage.IQL} and not final_state(decisions).needs_enrichment


# -- every change explains itself ------------------------------------------------------------------


def test_every_change_carries_the_framework_criteria_and_fit_reasons():
    decisions = journey([signal("blog_view", T0 - HOUR, anonymous=True), *qualified_but_unconfirmed(),
                         confirmed()])

    emitted = changes(decisions)
    assert len(emitted) >= 3
    for change in emitted:
        assert change.framework == "bant"
        assert tuple(change.criteria) == BANT
        assert change.fit_reasons == ICP_FIT_REASONS
        assert change.scores.fit == 100
        assert change.disqualified_by == ()


def test_a_change_without_a_profile_has_no_fit_reasons_and_unknown_criteria():
    (change,) = changes(journey([signal("page_view", T0)]))

    assert (change.from_stage, change.to_stage) == (Stage.NEW, Stage.IQL)
    assert change.fit_reasons == ()
    assert change.criteria == dict.fromkeys(BANT, Status.UNKNOWN)
    assert change.account is None


# -- hysteresis per ladder ----------------------------------------------------------------------


def scores_for(ladder: str, value: float) -> Scores:
    """Scores whose value on ``ladder``'s measure is ``value`` (engagement for warm)."""
    if ladder == "mql":
        return Scores(interest=value, intent=0, negative=0)
    if ladder == "sql":
        return Scores(interest=0, intent=value, negative=0)
    if ladder == "pql":
        return Scores(interest=0, intent=value, negative=0, product=value)
    return Scores(interest=value / 2, intent=value / 2, negative=0)


@pytest.mark.parametrize("ladder", ["mql", "sql", "pql", "warm"])
def test_a_score_hovering_between_demote_and_promote_does_not_flip_the_ladder_level(ladder):
    rung = getattr(model().qualification.ladders, ladder)
    hovering = [rung.demote, (rung.demote + rung.promote) / 2, rung.promote - 1e-9]

    def level_after(start: int, values: list[float]) -> list[int]:
        levels, seen = Levels(**{ladder: start}), []
        for value in values:
            levels = next_levels(levels, scores_for(ladder, value), model().qualification.ladders)
            seen.append(getattr(levels, ladder))
        return seen

    assert level_after(0, hovering * 3) == [0] * 9  # below the rung: never promoted
    assert level_after(1, hovering * 3) == [1] * 9  # on the rung: never demoted
    assert level_after(0, [rung.promote]) == [1]
    assert level_after(1, [rung.demote - 1e-9]) == [0]


def test_interest_hovering_between_the_mql_thresholds_does_not_flip_the_mql_stage():
    climbed = journey([fitting_lead(), *engaged(T0 + HOUR)])  # interest ≈ 30
    assert final_state(climbed).stage is Stage.MQL
    # Two to three weeks later, with a visit now and then, interest is ≈ 22: between demote (15) and promote (25).
    hovering = journey([signal("page_view", T0 + days(14 + 2 * n)) for n in range(4)], state=final_state(climbed))
    # Another lead reaches about the same interest (≈ 24) from below.
    from_below = journey([fitting_lead(), signal("webinar_attended", T0 + HOUR), signal("page_view", T0 + 2 * HOUR),
                          signal("email_click", T0 + 3 * HOUR)])

    rung = model().qualification.ladders.mql
    assert rung.demote < at_latest(hovering).interest < rung.promote
    assert rung.demote < at_latest(from_below).interest < rung.promote
    assert all(rung.demote < scores_at(d.state, model(), d.state.as_of).interest < rung.promote for d in hovering)
    assert set(stages(hovering)) == {Stage.MQL}
    assert changes(hovering) == []
    assert final_state(from_below).stage is Stage.IQL


# -- bugs found in review, fixed: these pin the fixes ------------------------------------------------


def test_a_cooled_sql_stays_where_it_landed_until_its_scores_change():
    sql = final_state(journey([*qualified_but_unconfirmed(), confirmed()]))
    later = T0 + days(10)  # intent ≈ 15 (< 20), interest ≈ 24 (between the MQL thresholds)

    decisions = journey([signal("page_view", later), signal("page_view", later + 60)], state=sql)

    assert decisions[0].state.stage is decisions[1].state.stage
    assert len(changes(decisions)) == 1


def test_a_lead_that_does_not_fit_the_icp_is_never_hot():
    decisions = journey([identify(T0, "ada@gmail.com"), answer(T0, **BANT_MET), *engaged(T0 + HOUR),
                         *buying(T0 + 3 * HOUR)])

    assert final_state(decisions).stage is Stage.IQL
    assert final_state(decisions).temperature is not Temperature.HOT
