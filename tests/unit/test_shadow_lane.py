"""A shadow model beside the live one: the live output unchanged byte for byte, the shadow's changes on their own topic."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from scoring.replay import replay
from scoring.revisit import next_due
from streams.contracts import command_records
from streams.contracts.segment import decode_segment
from streams.worker import pipeline
from streams.worker.shadow_lane import held_shadow
from tests.unit.builders import model, model_with
from tests.unit.pipeline_builders import (
    NOW, MovableClock, Topology, hot_journey, identify, page, track, worker_context,
)

pytestmark = pytest.mark.asyncio
RICHER_WEBINARS = ('webinar_attended = { component = "interest", points = 20, cap = 40 }',
                   'webinar_attended = { component = "interest", points = 40, cap = 80 }')
CANDIDATE = model_with(RICHER_WEBINARS, ('version = "default-3"', 'version = "candidate-1"'))
SLOWER = model_with(('intent = 7', 'intent = 9'), ('version = "default-3"', 'version = "slower-1"'))


def below_mql(lead: str, minutes: float = 0.0) -> list[dict[str, Any]]:
    """22 interest points under the shipped model (IQL), 42 under the candidate (MQL)."""
    return [identify(lead, f"{lead}-1", f"{lead}@acme.io", minutes),
            track(lead, f"{lead}-2", "Webinar Attended", minutes + 1),
            page(lead, f"{lead}-3", "/blog/a", minutes + 2)]


EARLY = [*below_mql("ada"), *hot_journey("bob", "bob@acme.io")]
LATE = [*below_mql("cy", 10), page("ada", "ada-4", "/blog/b", 11), track("bob", "bob-9", "Webinar Attended", 12)]


def shadow_on(topology: Topology, shadow=CANDIDATE, offset: int = 5) -> None:
    topology.context.shadow.use(shadow, f"shadow:{shadow.version}@{offset}")


async def start_held_leads(topology: Topology) -> None:
    """What a worker does when a shadow comes on: a shadow_start command for each lead it holds."""
    for key in list(topology.context.leads.data):
        await topology.command(key, command_records.encode_command(
            command_records.SHADOW_START, key.decode(), NOW.timestamp(), version="candidate-1",
            cause=topology.context.shadow.cause))


def shadow_changes(topology: Topology) -> list[dict[str, Any]]:
    return [orjson.loads(value) for _, value in topology.on(topology.context.topics.shadow_qualification)]


def live_output(topology: Topology) -> list[tuple[str, bytes | None, bytes | None]]:
    """Everything the worker sent that is not the shadow's own (its topic and its table's changelog)."""
    shadow = (topology.context.topics.shadow_qualification, topology.context.shadow.leads.changelog)
    commands = (command_records.SHADOW_START.encode(), command_records.SHADOW_DECAY.encode())
    return [(topic, key, value) for topic, key, value in topology.sent if topic not in shadow
            and not (value and any(b'"command":"' + name + b'"' in value for name in commands))]


def moves(changes: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    return [(c["lead_id"], c["from_stage"], c["to_stage"], c["to_temperature"], c["model_version"]) for c in changes]


async def test_the_live_output_is_byte_for_byte_what_it_is_without_a_shadow():
    without, beside = Topology(), Topology()
    await without.send(*EARLY)
    await beside.send(*EARLY)
    shadow_on(beside)
    await start_held_leads(beside)
    await without.send(*LATE)
    await beside.send(*LATE)

    assert live_output(beside) == live_output(without)
    assert beside.context.leads.data == without.context.leads.data
    assert shadow_changes(beside)  # the shadow did decide: it just decided nothing live


async def test_the_shadow_makes_what_promoting_it_at_that_moment_would_make():
    """Its changes equal those of `model apply` at the moment it came on: same held state, same candidate."""
    live_model = {"model": model()}
    shadowed, promoted = Topology(), Topology(replace(worker_context(), model=lambda: live_model["model"]))
    await shadowed.send(*EARLY)
    await promoted.send(*EARLY)
    shadow_on(shadowed)
    await start_held_leads(shadowed)
    switched_at = len(promoted.changes())
    live_model["model"] = CANDIDATE  # what `model apply` does: swap the model, re-classify every held lead
    for key in list(promoted.context.leads.data):
        await promoted.command(key, command_records.encode_command(
            command_records.RECLASSIFY, key.decode(), NOW.timestamp(), version="candidate-1", cause="model:x"))
    await shadowed.send(*LATE)
    await promoted.send(*LATE)

    assert moves(shadow_changes(shadowed)) == moves(promoted.changes()[switched_at:])
    assert ("ada", "iql", "mql", "warm", "candidate-1") in moves(shadow_changes(shadowed))  # 42 points: MQL
    assert not [c for c in shadowed.changes() if c["lead_id"] == "ada" and c["to_stage"] == "mql"]  # live: IQL


async def test_a_lead_new_under_the_shadow_moves_as_replay_under_the_candidate_moves_it():
    topology = Topology()
    shadow_on(topology)
    await topology.send(*below_mql("cy"), *hot_journey("dee", "dee@acme.io"))

    events = [decode_segment(orjson.dumps(e), NOW.timestamp(), 32 * 1024)
              for e in [*below_mql("cy"), *hot_journey("dee", "dee@acme.io")]]
    expected = replay(events, CANDIDATE).changes
    assert [(c["lead_id"], c["change_id"], c["to_stage"], c["to_temperature"]) for c in shadow_changes(topology)] == \
        [(c.lead_id, c.change_id, c.to_stage.value, c.to_temperature.value) for c in expected]
    assert all(c["model_version"] == "candidate-1" for c in shadow_changes(topology))
    assert all(c["model_version"] == "default-3" for c in topology.changes())


async def test_the_shadow_demotes_on_its_own_timer_and_only_on_its_own_topic():
    clock = MovableClock(NOW.timestamp())
    topology = Topology(worker_context(clock=clock))
    shadow_on(topology)
    await topology.send(*hot_journey("bob", "bob@acme.io"))
    lane = topology.context.shadow
    shadow_state = held_shadow(lane, b"bob")
    due = next_due(shadow_state, CANDIDATE)
    assert due is not None and lane.due_index.due_at("bob") == due
    live_before = list(topology.changes())
    clock.at = due + 1
    await pipeline.send_due(topology.context)
    await topology.settle()

    demoted = shadow_changes(topology)[-1]
    assert demoted["cause"]["type"] in ("decay", "inactivity") and demoted["model_version"] == "candidate-1"
    assert all(c["model_version"] == "default-3" for c in topology.changes())
    assert held_shadow(lane, b"bob").sequence == shadow_state.sequence + 1
    assert topology.changes()[: len(live_before)] == live_before


async def test_erasing_a_lead_erases_its_shadow_state_even_with_the_shadow_off():
    topology = Topology()
    shadow_on(topology)
    await topology.send(*below_mql("ada"))
    assert b"ada" in topology.context.shadow.leads.data
    topology.context.shadow.use(None)
    await topology.command(b"ada", command_records.encode_command(command_records.ERASE, "ada", NOW.timestamp()))

    assert b"ada" not in topology.context.shadow.leads.data
    assert (topology.context.shadow.leads.changelog, b"ada", None) in topology.sent


async def test_switched_off_it_sends_nothing_more():
    topology = Topology()
    shadow_on(topology)
    await topology.send(*below_mql("ada"))
    sent = len(shadow_changes(topology))
    topology.context.shadow.use(None)
    await topology.send(*hot_journey("bob", "bob@acme.io"))

    assert len(shadow_changes(topology)) == sent > 0
    assert len(topology.context.shadow.due_index) == 0


async def test_switched_off_and_on_again_a_lead_starts_again_from_its_live_state():
    """What it heard while off it missed: its old shadow state would be behind the live one."""
    topology = Topology()
    shadow_on(topology, offset=5)
    await topology.send(*below_mql("ada"))
    topology.context.shadow.use(None)
    await topology.send(track("ada", "ada-4", "Demo Requested", 5))  # intent the shadow never heard
    shadow_on(topology, offset=9)
    await start_held_leads(topology)

    restarted = held_shadow(topology.context.shadow, b"ada")
    assert restarted is not None and restarted.as_of == topology.stored("ada").as_of
    assert restarted.tallies == topology.stored("ada").tallies
