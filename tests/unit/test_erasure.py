"""Erasure in the pipeline, without Kafka: by lead id, by the e-mail that names a lead, by visitor id, of an id never seen."""

from __future__ import annotations

import asyncio

import orjson
from prometheus_client import REGISTRY

from streams.contracts import command_records
from streams.contracts.lead_event_records import ErasedIds, erased_digests, erasure_key, feedback_key
from streams.contracts.partitioning import partition_for
from streams.worker import pipeline
from tests.unit.pipeline_builders import (NOW, PARTITIONS, Topology, hot_journey, identify_visitor, page, raw, record,
                                          visit)


def erase(topology: Topology, subject: str) -> None:
    asyncio.run(topology.command(subject.encode(), command_records.encode_command(
        command_records.ERASE, subject, NOW.timestamp())))


def ignored_erased() -> float:
    return REGISTRY.get_sample_value("leadstream_events_ignored_total", {"reason": "erased_lead"}) or 0.0


def nothing_holds(topology: Topology, subject: str) -> None:
    """No table key or value names ``subject``; the erasures table holds its digest only."""
    needle = subject.encode()
    for table in (topology.context.leads, topology.context.visitors, topology.context.accounts,
                  topology.context.erasures):
        for key, value in table.data.items():
            assert needle not in key and needle not in (value or b""), (table.name, key)
    assert erasure_key(needle, PARTITIONS) in topology.context.erasures.data


def test_erasure_by_visitor_id_reaches_the_lead_it_became_its_feedback_and_its_account():
    topology = Topology()
    lead, visitor = "lena@acme.io", next(f"anon-{n}" for n in range(100) if partition_for(
        f"anon-{n}".encode(), PARTITIONS) != partition_for(b"lena@acme.io", PARTITIONS))
    asyncio.run(topology.send(visit(visitor, "v-1", "/pricing", 0)))
    asyncio.run(topology.send(*hot_journey(lead, lead)[:3], identify_visitor(lead, visitor, "v-2", lead, 3)))
    asyncio.run(topology.command(lead.encode(), command_records.encode_command(
        command_records.FEEDBACK, lead, NOW.timestamp(), feedback_id="f-1", verdict="accepted", reason=None, by=None)))
    assert topology.batch_links(lead) == ([visitor], ["f-1"])
    assert topology.context.accounts.data[b"acme.io"]

    erase(topology, visitor)

    assert topology.stored(lead) is None and visitor.encode() not in topology.context.visitors.data
    nothing_holds(topology, lead)
    nothing_holds(topology, visitor)
    assert (feedback_key(lead, "f-1"), None) in topology.on(topology.context.topics.feedback)
    notices = [orjson.loads(v or b"{}") for _, v in topology.on(topology.context.topics.qualification)]
    assert {n["lead_id"] for n in notices if n.get("kind") == "lead_erased"} == {lead, visitor}


def test_the_lead_knows_its_visitor_even_if_the_visitors_partition_never_confirms_the_link():
    # A worker killed after the visitor's partition stored the link but before its "linked"
    # command left: the redelivered stitch finds the link made and says nothing more.
    topology = Topology()
    lead, visitor = "lena@acme.io", next(f"anon-{n}" for n in range(100) if partition_for(
        f"anon-{n}".encode(), PARTITIONS) != partition_for(b"lena@acme.io", PARTITIONS))
    signals = topology.context.topics.signals

    async def identify_and_lose_the_confirmation() -> None:
        await pipeline.ingest(topology.context, [raw(identify_visitor(lead, visitor, "v-1", lead, 0))])
        while forwarded := topology.outbox.take(signals):
            kept = [(k, v) for k, v in forwarded if orjson.loads(v).get("command") != command_records.LINKED]
            await pipeline.score_forwarded(topology.context, [record(signals, k, v) for k, v in kept])
        await topology.settle()

    asyncio.run(identify_and_lose_the_confirmation())
    assert visitor.encode() in topology.context.visitors.data

    erase(topology, lead)

    assert visitor.encode() not in topology.context.visitors.data
    nothing_holds(topology, visitor)


def test_an_anonymous_visitors_held_events_go_with_it_and_its_later_visits_are_ignored():
    topology = Topology()
    asyncio.run(topology.send(visit("anon-x", "x-1", "/pricing", 0), visit("anon-x", "x-2", "/docs", 1)))
    held, before = topology.context.held.total(), ignored_erased()

    erase(topology, "anon-x")

    assert ignored_erased() == before + 2  # what it held moves from held to ignored
    assert topology.context.held.total() == held - 2
    nothing_holds(topology, "anon-x")
    asyncio.run(topology.send(visit("anon-x", "x-3", "/pricing", 2)))
    assert ignored_erased() == before + 3 and b"anon-x" not in topology.context.visitors.data


def test_an_id_never_seen_is_recorded_so_that_its_later_events_are_ignored():
    topology = Topology()
    before = ignored_erased()

    erase(topology, "new@acme.io")

    nothing_holds(topology, "new@acme.io")
    asyncio.run(topology.send(*hot_journey("new@acme.io", "new@acme.io")[:2]))
    assert topology.stored("new@acme.io") is None and ignored_erased() == before + 2
    assert topology.changes("new@acme.io") == []


def test_a_visitor_linked_to_an_erased_lead_later_is_erased_too():
    topology = Topology()
    erase(topology, "gone@acme.io")
    asyncio.run(topology.send(visit("anon-y", "y-1", "/pricing", 0),
                              identify_visitor("gone@acme.io", "anon-y", "y-2", "gone@acme.io", 1)))
    assert b"anon-y" not in topology.context.visitors.data
    nothing_holds(topology, "anon-y")


def test_a_repeated_erasure_changes_nothing_and_sends_nothing_more():
    topology = Topology()
    asyncio.run(topology.send(page("rita", "r-1", "/pricing")))
    erase(topology, "rita")
    sent = len(topology.sent)
    erase(topology, "rita")
    assert len(topology.sent) == sent


def test_the_erased_ids_read_back_from_the_changelog_match_by_digest_only():
    erased = ErasedIds(*erased_digests([erasure_key(b"lena@acme.io", 4), b"legacy-id"]))
    assert "lena@acme.io" in erased and "legacy-id" in erased and "other@acme.io" not in erased
    assert not any("lena" in text for text in erased.digests)
