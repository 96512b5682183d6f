"""Switching held state to another model: exact for weights, refused for half-lives."""

from __future__ import annotations

from scoring import Stage, Temperature, scores_at
from scoring.switch import half_life_change, reclassify_under
from tests.unit.builders import HOUR, ICP_FIT, T0, final_state, identify, journey, model, model_with, signal

RICHER_WEBINARS = ('webinar_attended = { component = "interest", points = 20, cap = 40 }',
                   'webinar_attended = { component = "interest", points = 40, cap = 80 }')
NEW_VERSION = ('version = "default-3"', 'version = "default-4"')


def below_mql():
    """A fitting lead with 22 interest points: one short of the MQL rung (25)."""
    return final_state(journey([
        identify(T0, "ada@acme.com", **ICP_FIT),
        signal("webinar_attended", T0 + HOUR),
        signal("blog_view", T0 + 2 * HOUR),
    ]))


def test_new_weights_apply_exactly_to_the_held_sums():
    state = below_mql()
    richer = model_with(RICHER_WEBINARS, NEW_VERSION)
    replayed = final_state(journey([
        identify(T0, "ada@acme.com", **ICP_FIT), signal("webinar_attended", T0 + HOUR),
        signal("blog_view", T0 + 2 * HOUR),
    ], richer))

    switched = reclassify_under(state, richer, "model:default-4@7")

    assert scores_at(switched.state, richer, T0 + 2 * HOUR) == scores_at(replayed, richer, T0 + 2 * HOUR)
    assert (switched.state.stage, switched.state.temperature) == (replayed.stage, replayed.temperature)


def test_a_lead_the_new_weights_qualify_moves_at_its_own_time_with_the_new_version():
    state = below_mql()
    assert state.stage is Stage.IQL

    switched = reclassify_under(state, model_with(RICHER_WEBINARS, NEW_VERSION), "model:default-4@7")

    change = switched.change
    assert (change.from_stage, change.to_stage, change.to_temperature) == (Stage.IQL, Stage.MQL, Temperature.WARM)
    assert (change.model_version, change.cause, change.cause_event_id) == ("default-4", "model", "model:default-4@7")
    assert change.event_time == state.as_of == switched.state.as_of  # no time passes: nothing decays
    assert switched.state.model_version == "default-4"


def test_the_same_switch_redelivered_changes_nothing_more():
    richer = model_with(RICHER_WEBINARS, NEW_VERSION)
    once = reclassify_under(below_mql(), richer, "model:default-4@7")

    again = reclassify_under(once.state, richer, "model:default-4@7")

    assert again.duplicate and again.change == once.change  # re-emitted with the same id, if at all


def test_weights_alone_need_no_replay_but_half_lives_do():
    assert half_life_change(model(), model_with(RICHER_WEBINARS, NEW_VERSION)) is None

    refusal = half_life_change(model(), model_with(("intent = 7\n", "intent = 3\n")))

    assert refusal == ("its half-lives differ (intent 7 → 3 days): held scores were decayed with the old ones,"
                       " so switching needs a replay")
