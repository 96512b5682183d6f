"""Erasure in the pipeline, without Kafka: by lead id, by the e-mail that names a lead, by visitor id, of an id never seen."""

from __future__ import annotations

import asyncio

import orjson
from prometheus_client import REGISTRY

from streams.contracts import command_records, email_index
from streams.contracts.lead_event_records import ErasedIds, erased_digests, erasure_key, feedback_key
from streams.contracts.partitioning import partition_for
from streams.worker import pipeline
from tests.unit.pipeline_builders import (NOW, PARTITIONS, Topology, hot_journey, identify, identify_visitor, page, raw,
                                          record, visit)


def erase(topology: Topology, subject: str) -> None:
    asyncio.run(topology.command(subject.encode(), command_records.encode_command(
        command_records.ERASE, subject, NOW.timestamp())))


def ignored_erased() -> float:
    return REGISTRY.get_sample_value("leadstream_events_ignored_total", {"reason": "erased_lead"}) or 0.0


def nothing_holds(topology: Topology, subject: str) -> None:
    """No table key or value names ``subject``; the erasures table holds its digest only."""
    needle = subject.encode()
    for table in (topology.context.leads, topology.context.visitors, topology.context.accounts,
                  topology.context.erasures, topology.context.emails):
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
    # Nothing the visitor's partition sends after it stored the link is needed: a worker killed
    # there redelivers the stitch, which finds the link made and says nothing more.
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


def feedback(topology: Topology, lead: str, feedback_id: str) -> None:
    asyncio.run(topology.command(lead.encode(), command_records.encode_command(
        command_records.FEEDBACK, lead, NOW.timestamp(), feedback_id=feedback_id, verdict="rejected",
        reason="no budget", by=None)))


def erased_notices(topology: Topology) -> set[str]:
    notices = [orjson.loads(v or b"{}") for _, v in topology.on(topology.context.topics.qualification)]
    return {n["lead_id"] for n in notices if n.get("kind") == "lead_erased"}


def test_erasure_by_email_reaches_a_lead_known_by_its_user_id_with_its_visitor_feedback_and_account():
    # A data subject asks by e-mail; the CRM knows them by a userId their profile gives that e-mail.
    topology = Topology()
    lead, email, visitor = "crm-000417", "lena@acme.io", "anon-lena"
    asyncio.run(topology.send(visit(visitor, "l-1", "/pricing", 0), identify_visitor(lead, visitor, "l-2", email, 1),
                              *hot_journey(lead, email)[1:4]))
    feedback(topology, lead, "f-1")
    assert topology.stored(lead) is not None and topology.context.accounts.data[b"acme.io"]

    erase(topology, email)

    assert topology.stored(lead) is None and visitor.encode() not in topology.context.visitors.data
    for subject in (lead, email, visitor):
        nothing_holds(topology, subject)
    assert b"acme.io" not in topology.context.accounts.data
    assert (feedback_key(lead, "f-1"), None) in topology.on(topology.context.topics.feedback)
    assert erased_notices(topology) == {email, lead, visitor}
    before = ignored_erased()
    asyncio.run(topology.send(page(lead, "l-9", "/pricing", 9)))
    assert topology.stored(lead) is None and ignored_erased() == before + 1


def test_erasure_by_email_in_another_case_reaches_the_leads_that_state_it():
    topology = Topology()
    asyncio.run(topology.send(identify("crm-1", "c-1", "lena@acme.io"), identify("lena@acme.io", "c-2", "lena@acme.io")))

    erase(topology, "Lena@ACME.io")

    assert topology.stored("crm-1") is None and topology.stored("lena@acme.io") is None
    nothing_holds(topology, "crm-1")


def test_a_lead_leaves_the_index_of_an_email_it_no_longer_states():
    topology = Topology()
    asyncio.run(topology.send(identify("crm-2", "m-1", "old@acme.io", 0), identify("crm-2", "m-2", "new@acme.io", 1)))

    erase(topology, "old@acme.io")
    assert topology.stored("crm-2") is not None  # the old address is no longer theirs

    erase(topology, "new@acme.io")
    assert topology.stored("crm-2") is None


def test_erasing_a_lead_by_its_user_id_takes_it_out_of_its_emails_index():
    topology = Topology()
    asyncio.run(topology.send(identify("crm-3", "u-1", "ute@acme.io"), identify("crm-4", "u-2", "ute@acme.io")))
    key = email_index.index_key("ute@acme.io", PARTITIONS)
    assert email_index.decode_entry(topology.context.emails.data[key]) == ["crm-3", "crm-4"]

    erase(topology, "crm-3")

    nothing_holds(topology, "crm-3")
    assert email_index.decode_entry(topology.context.emails.data[key]) == ["crm-4"]


def test_a_lead_stating_an_erased_email_later_is_erased_too():
    topology = Topology()
    erase(topology, "gone@acme.io")

    asyncio.run(topology.send(identify("crm-5", "g-1", "gone@acme.io")))

    assert topology.stored("crm-5") is None
    nothing_holds(topology, "crm-5")
    assert "crm-5" in erased_notices(topology)


def test_an_emails_index_entry_keeps_its_newest_leads_only():
    topology = Topology()
    leads = [f"crm-shared-{n}" for n in range(email_index.MAX_LEADS_PER_EMAIL + 5)]
    asyncio.run(topology.send(*(identify(lead, f"s-{n}", "team@acme.io", n) for n, lead in enumerate(leads))))
    entry = email_index.decode_entry(topology.context.emails.data[email_index.index_key("team@acme.io", PARTITIONS)])
    assert entry == leads[-email_index.MAX_LEADS_PER_EMAIL:]


def test_a_redelivered_event_tells_the_emails_partition_again_in_case_a_crash_lost_it():
    # A worker killed after the lead's state landed but before its e-mail command left: the
    # redelivered identify is a duplicate, and still reaches the index.
    topology = Topology()
    event = identify("crm-6", "r-1", "rae@acme.io")
    asyncio.run(pipeline.ingest(topology.context, [raw(event)]))
    topology.outbox.take(topology.context.topics.signals)  # lost with the crash
    assert not topology.context.emails.data

    asyncio.run(topology.send(event))

    erase(topology, "rae@acme.io")
    assert topology.stored("crm-6") is None
