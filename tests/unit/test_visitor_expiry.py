"""Anonymous visitors counted and expired from what every visitor write keeps, not by reading every visitor."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from prometheus_client import REGISTRY

from streams.contracts import command_records, visitor_records
from streams.contracts.partitioning import partition_for
from streams.worker import pipeline, stitching
from streams.worker.context import WorkerContext
from tests.unit.pipeline_builders import NOW, PARTITIONS, Topology, identify_visitor, raw, visit, worker_context

EVERY_PARTITION = set(range(PARTITIONS))
TTL = worker_context().settings.hold_limits().ttl_s
T0 = NOW.timestamp()


def seen(topology: Topology, event: dict, at: float) -> None:
    """``event`` received by the broker at ``at`` (a visitor's last sighting is its receipt time)."""
    received = dataclasses.replace(raw(event), timestamp=int(at * 1000))
    asyncio.run(pipeline.ingest(topology.context, [received]))
    asyncio.run(topology.settle())


def expire_due(topology: Topology, now: float, active: set[int] = EVERY_PARTITION) -> list[str]:
    """What the expiry timer does at ``now``: each visitor due is asked, on its own partition, to go."""
    due = stitching.due_for_expiry(topology.context, now, active)
    for visitor in due:
        asyncio.run(topology.command(visitor.encode(), command_records.encode_command(
            command_records.EXPIRE, None, now, visitor_id=visitor)))
    return due


def counted(context: WorkerContext) -> tuple[int, int]:
    """(visitors holding events, events held) as /stats reports them."""
    return stitching.held_visitors(context, EVERY_PARTITION), context.held.total()


def by_reading_every_visitor(context: WorkerContext) -> tuple[int, int]:
    """The same figures the slow way: every visitor decoded."""
    states = [visitor_records.decode_visitor(key.decode(), value) for key, value in context.visitors.data.items()]
    return sum(1 for state in states if state.held), sum(len(state.held) for state in states)


def expired_anonymous() -> float:
    return REGISTRY.get_sample_value("leadstream_events_ignored_total", {"reason": "expired_anonymous"}) or 0.0


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The visitor ids decoded from their records from now on."""
    decoded: list[str] = []
    decode = visitor_records.decode_visitor

    def counting(visitor_id: str, raw: bytes):
        decoded.append(visitor_id)
        return decode(visitor_id, raw)

    monkeypatch.setattr(visitor_records, "decode_visitor", counting)
    return decoded


def test_expiry_asks_for_exactly_the_visitors_unseen_for_the_ttl_without_reading_any_visitor(decodes):
    topology = Topology()
    seen(topology, visit("v-away", "a-1", "/pricing"), T0)
    seen(topology, identify_visitor("lead-1", "v-linked", "l-1", "lead@acme.io"), T0 + 1)
    seen(topology, visit("v-back", "b-1", "/pricing"), T0)
    seen(topology, visit("v-back", "b-2", "/docs"), T0 + TTL / 2)  # seen again: its TTL starts again
    decodes.clear()

    assert stitching.due_for_expiry(topology.context, T0 + TTL - 1, EVERY_PARTITION) == []
    assert sorted(stitching.due_for_expiry(topology.context, T0 + TTL + 1, EVERY_PARTITION)) == ["v-away", "v-linked"]
    assert decodes == []


def test_expired_visitors_go_and_their_held_events_are_counted_as_ignored():
    topology = Topology()
    seen(topology, visit("v-away", "a-1", "/pricing"), T0)
    seen(topology, visit("v-away", "a-2", "/docs"), T0 + 1)
    seen(topology, visit("v-here", "h-1", "/pricing"), T0 + TTL / 2)
    assert counted(topology.context) == (2, 3)
    ignored = expired_anonymous()

    assert expire_due(topology, T0 + TTL + 1) == ["v-away"]
    assert expired_anonymous() == ignored + 2

    assert b"v-away" not in topology.context.visitors.data and b"v-here" in topology.context.visitors.data
    assert counted(topology.context) == (1, 1) == by_reading_every_visitor(topology.context)
    assert expire_due(topology, T0 + TTL + 1 + stitching.EXPIRY_RETRY_S) == []  # gone: never asked again


def test_a_visitor_seen_again_after_the_timer_asked_is_not_expired():
    topology = Topology()
    seen(topology, visit("v-1", "e-1", "/pricing"), T0)
    due = stitching.due_for_expiry(topology.context, T0 + TTL, EVERY_PARTITION)
    assert due == ["v-1"]
    seen(topology, visit("v-1", "e-2", "/docs"), T0 + TTL + 1)  # arrives before the timer's request

    asyncio.run(topology.command(b"v-1", command_records.encode_command(
        command_records.EXPIRE, None, T0 + TTL, visitor_id="v-1")))

    assert counted(topology.context) == (1, 2)
    assert expire_due(topology, T0 + TTL + stitching.EXPIRY_RETRY_S) == []  # due a TTL after its last sighting
    assert expire_due(topology, T0 + 2 * TTL + 1) == ["v-1"]
    assert counted(topology.context) == (0, 0)


def test_a_lost_request_is_asked_again_after_the_retry_delay():
    topology = Topology()
    seen(topology, visit("v-1", "e-1", "/pricing"), T0)
    assert stitching.due_for_expiry(topology.context, T0 + TTL, EVERY_PARTITION) == ["v-1"]  # never delivered

    assert expire_due(topology, T0 + TTL + stitching.EXPIRY_RETRY_S - 1) == []
    assert expire_due(topology, T0 + TTL + stitching.EXPIRY_RETRY_S) == ["v-1"]
    assert b"v-1" not in topology.context.visitors.data


def test_a_visitor_of_a_partition_no_longer_owned_is_left_to_its_new_owner():
    topology = Topology()
    seen(topology, visit("v-1", "e-1", "/pricing"), T0)
    elsewhere = EVERY_PARTITION - {partition_for(b"v-1", PARTITIONS)}

    assert stitching.due_for_expiry(topology.context, T0 + TTL, elsewhere) == []
    assert counted(topology.context) == (1, 1)
    assert stitching.held_visitors(topology.context, elsewhere) == 0


def test_the_held_counts_follow_every_write_link_expiry_and_erasure():
    topology = Topology()
    context = topology.context
    for visitor, events in (("v-1", 2), ("v-2", 1), ("v-3", 1), ("v-4", 3)):
        for n in range(events):
            seen(topology, visit(visitor, f"{visitor}-{n}", "/pricing", minutes=n), T0)
    seen(topology, visit("v-1", "v-1-0", "/pricing"), T0)  # a redelivery holds nothing more
    assert counted(context) == (4, 7) == by_reading_every_visitor(context)

    seen(topology, identify_visitor("lead-1", "v-1", "id-1", "one@acme.io"), T0 + 1)
    assert counted(context) == (3, 5) == by_reading_every_visitor(context)
    seen(topology, visit("v-1", "v-1-later", "/docs"), T0 + 2)  # linked: straight to the lead, not held
    assert counted(context) == (3, 5) == by_reading_every_visitor(context)

    asyncio.run(topology.command(b"v-2", command_records.encode_command(command_records.ERASE, "v-2", T0 + 3)))
    assert counted(context) == (2, 4) == by_reading_every_visitor(context)

    seen(topology, visit("v-4", "v-4-late", "/pricing"), T0 + TTL / 2)
    assert expire_due(topology, T0 + TTL + 1) == ["v-3"]  # v-1 was seen later, v-4 later still
    assert counted(context) == (1, 4) == by_reading_every_visitor(context)


def test_a_recount_gives_the_counts_and_expiry_the_writes_kept():
    topology = Topology()
    context = topology.context
    seen(topology, visit("v-1", "e-1", "/pricing"), T0)
    seen(topology, visit("v-2", "e-2", "/pricing"), T0 + 5)
    seen(topology, identify_visitor("lead-1", "v-3", "id-1", "one@acme.io"), T0 + 7)
    kept = counted(context), {key: context.visitor_expiry.due_at(key.decode()) for key in context.visitors.data}

    stitching.recount_held(context, EVERY_PARTITION)

    assert (counted(context), {key: context.visitor_expiry.due_at(key.decode()) for key in context.visitors.data}) \
        == kept
    assert kept[1] == {b"v-1": T0 + TTL, b"v-2": T0 + 5 + TTL, b"v-3": T0 + 7 + TTL}
