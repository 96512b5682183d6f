"""Anonymous history: held per visitor, bounded and expiring, released to the lead once on identify."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scoring import Forward, Held, HoldLimits, Signal, VisitorState, interpret
from scoring.visitors import is_expired, link, on_anonymous, release_id
from tests.unit.builders import T0, event, model, signal

LIMITS = HoldLimits(max_events=3, ttl_s=3600.0)


def visit(n: int, visitor: str = "v-1") -> Signal:
    return signal("pricing_view", T0 + n, lead=visitor, event_id=f"{visitor}-{n}", anonymous=True)


def hold_all(signals: list[Signal], limits: HoldLimits = LIMITS) -> tuple[VisitorState | None, list[Held | Forward]]:
    state, decisions = None, []
    for index, each in enumerate(signals):
        decision = on_anonymous(state, each, T0 + index, limits)
        decisions.append(decision)
        state = decision.state
    return state, decisions


def test_an_anonymous_visitors_signals_are_held_in_order_until_identify():
    state, decisions = hold_all([visit(1), visit(2)])

    assert all(isinstance(d, Held) and not d.duplicate and d.evicted == 0 for d in decisions)
    assert state is not None and state.lead_id is None
    assert [s.event_id for s in state.held] == ["v-1-1", "v-1-2"]
    assert state.last_seen == T0 + 1


def test_a_redelivered_anonymous_signal_is_held_once():
    state, decisions = hold_all([visit(1), visit(1)])

    assert decisions[1] == Held(state, duplicate=True)
    assert len(state.held) == 1


def test_beyond_the_bound_the_oldest_held_signal_makes_way():
    state, decisions = hold_all([visit(n) for n in range(5)])

    assert [d.evicted for d in decisions] == [0, 0, 0, 1, 1]
    assert [s.event_id for s in state.held] == ["v-1-2", "v-1-3", "v-1-4"]


def test_identify_releases_the_held_history_as_the_leads_own():
    state, _ = hold_all([visit(1), visit(2)])

    linked = link(state, "v-1", "lead-9", T0 + 10)

    assert [(s.event_id, s.lead_id, s.anonymous) for s in linked.released] == [
        ("v-1-1", "lead-9", False), ("v-1-2", "lead-9", False)]
    assert linked.state == VisitorState("v-1", lead_id="lead-9", held=(), last_seen=T0 + 10)
    assert linked.release_id == release_id("v-1", "lead-9", linked.released)


def test_a_second_identify_releases_nothing():
    state, _ = hold_all([visit(1)])
    first = link(state, "v-1", "lead-9", T0 + 10)

    again = link(first.state, "v-1", "lead-9", T0 + 20)

    assert (again.released, again.release_id) == ((), None)


def test_identify_before_any_visit_remembers_the_link_and_later_visits_go_to_the_lead():
    linked = link(None, "v-1", "lead-9", T0)

    decision = on_anonymous(linked.state, visit(5), T0 + 5, LIMITS)

    assert isinstance(decision, Forward)
    assert (decision.signal.lead_id, decision.signal.anonymous, decision.signal.event_id) == ("lead-9", False, "v-1-5")
    assert decision.state.last_seen == T0 + 5


def test_the_same_release_always_gets_the_same_id_and_another_release_another():
    released = tuple(visit(n) for n in range(3))
    assert release_id("v-1", "lead-9", released) == release_id("v-1", "lead-9", released)
    assert release_id("v-1", "lead-9", released) != release_id("v-1", "lead-8", released)
    assert release_id("v-1", "lead-9", released) != release_id("v-1", "lead-9", released[:2])


def test_a_visitor_expires_once_unseen_for_the_ttl():
    state = VisitorState("v-1", held=(visit(1),), last_seen=T0)

    assert not is_expired(state, T0 + LIMITS.ttl_s - 1, LIMITS)
    assert is_expired(state, T0 + LIMITS.ttl_s, LIMITS)


@given(st.lists(st.integers(min_value=0, max_value=9), max_size=40))
def test_whatever_arrives_held_plus_evicted_plus_duplicates_is_what_arrived(visits):
    state, decisions = hold_all([visit(n) for n in visits])

    held = len(state.held) if state else 0
    evicted = sum(d.evicted for d in decisions if isinstance(d, Held))
    duplicates = sum(d.duplicate for d in decisions if isinstance(d, Held))
    assert held + evicted + duplicates == len(visits)
    assert held <= LIMITS.max_events


def test_identify_with_an_anonymous_id_links_the_visitor():
    result = interpret(event("identify", lead="lead-9", visitor_id="v-1", attributes={"email": "ada@acme.io"}), model())

    assert isinstance(result, Signal) and result.links_visitor == "v-1"


def test_a_form_giving_an_email_links_the_visitor_but_a_plain_click_does_not():
    form = interpret(event("track", lead="lead-9", visitor_id="v-1", name="Contact Form Submitted",
                           attributes={"email": "ada@acme.io"}), model())
    click = interpret(event("track", lead="lead-9", visitor_id="v-1", name="Demo Requested"), model())

    assert isinstance(form, Signal) and form.links_visitor == "v-1"
    assert isinstance(click, Signal) and click.links_visitor is None


def test_an_alias_is_a_signal_with_nothing_to_score_that_links_its_previous_id():
    result = interpret(event("alias", lead="lead-9", visitor_id="v-1", attributes={"email": "x@y.io"}), model())

    assert isinstance(result, Signal)
    assert (result.kind, dict(result.profile), result.links_visitor) == (None, {}, "v-1")


def test_a_group_call_tells_the_leads_company_facts():
    result = interpret(event("group", attributes={"name": "Acme Inc", "industry": "Software", "employees": "200",
                                                  "email": "billing@acme.com"}), model())

    assert isinstance(result, Signal)
    assert dict(result.profile) == {"company": "Acme Inc", "industry": "Software", "employees": 200}
