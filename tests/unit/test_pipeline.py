"""The worker's pipeline decides without Kafka: each batch on in-memory tables, its output in a list."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import REGISTRY

from scoring.crossing import next_demotion
from streams.contracts import command_records
from streams.contracts.lead_event_records import erasure_key
from streams.contracts.partitioning import partition_for
from streams.worker import pipeline
from tests.unit.pipeline_builders import (
    NOW, PARTITIONS, MovableClock, Topology, hot_journey, identify, identify_visitor, page, raw, record, transitions,
    visit,
    worker_context,
)


def run(step: Callable[[], Any]) -> Any:
    return asyncio.run(step())


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_journey_promotes_the_lead_through_iql_mql_and_sql_with_one_change_per_move():
    topology = Topology()
    run(lambda: topology.send(*hot_journey("dana", "dana@acme.io")))

    changes = topology.changes("dana")
    assert transitions(changes) == [("new", "iql", "cold", "cold"), ("iql", "mql", "cold", "warm"),
                                    ("mql", "sql", "warm", "hot")]
    assert [c["cause"]["event_id"] for c in changes] == ["dana-1", "dana-4", "dana-8"]
    assert [c["sequence"] for c in changes] == [1, 2, 3]
    assert topology.stored("dana").stage.value == "sql"


def test_a_redelivered_event_is_counted_as_deduplicated_and_its_change_sent_again_with_the_same_id():
    topology = Topology()
    journey = hot_journey("rory", "rory@acme.io")
    run(lambda: topology.send(*journey))
    first = topology.changes("rory")[-1]
    deduplicated = counted("leadstream_events_deduplicated_total")

    run(lambda: topology.send(journey[-1]))  # the event that made the lead hot, delivered again

    again = topology.changes("rory")
    assert counted("leadstream_events_deduplicated_total") == deduplicated + 1
    assert len(again) == 4 and again[-1]["change_id"] == first["change_id"]
    assert topology.stored("rory").sequence == 3  # the state did not move


def lead_and_visitor(apart: bool) -> tuple[str, str]:
    """A lead and a visitor id on different partitions (``apart``) or on the same one."""
    lead = "lena"
    for n in range(100):
        visitor = f"anon-{n}"
        same = partition_for(lead.encode(), PARTITIONS) == partition_for(visitor.encode(), PARTITIONS)
        if same != apart:
            return lead, visitor
    raise AssertionError("no such visitor id")


def test_anonymous_visits_are_held_then_scored_for_the_lead_once_identify_links_the_visitor():
    topology = Topology()
    lead, visitor = lead_and_visitor(apart=False)
    run(lambda: topology.send(visit(visitor, "v-1", "/pricing", 0), visit(visitor, "v-2", "/pricing/plans", 1)))
    assert topology.changes() == [] and topology.stored(visitor) is None
    assert topology.context.visitors.data[visitor.encode()]

    run(lambda: topology.send(identify_visitor(lead, visitor, "v-3", "lena@acme.io", 2)))

    assert topology.stored(lead).as_of is not None
    assert sum(topology.stored(lead).seen.values()) == 2  # both held page views, now the lead's
    # One partition did it all: only the e-mail's partition hears the lead states it (for erasure by e-mail).
    forwarded = [orjson.loads(value)["command"] for _, value in topology.on(topology.context.topics.signals)]
    assert forwarded == [command_records.EMAIL]


def test_stitching_across_partitions_goes_through_a_stitch_and_a_release_command():
    topology = Topology()
    lead, visitor = lead_and_visitor(apart=True)
    run(lambda: topology.send(visit(visitor, "w-1", "/pricing", 0), visit(visitor, "w-2", "/pricing/plans", 1)))
    # analytics.js keys identify by the user id: it lands on the lead's partition, not the visitor's.
    run(lambda: topology.send(identify_visitor(lead, visitor, "w-3", "lena@acme.io", 2)))

    forwarded = [orjson.loads(value) for _, value in topology.on(topology.context.topics.signals)]
    forwarded = [c for c in forwarded if c["command"] != command_records.EMAIL]  # the e-mail index's own
    assert [c["command"] for c in forwarded] == [command_records.STITCH, command_records.RELEASE]
    assert forwarded[1]["lead_id"] == lead and len(forwarded[1]["signals"]) == 2
    assert sum(topology.stored(lead).seen.values()) == 2
    assert topology.batch_links(lead)[0] == [visitor]  # the release told the lead: its erasure finds the visitor


def test_a_decay_command_at_the_crossing_time_demotes_the_lead_and_not_before():
    clock = MovableClock(NOW.timestamp())
    topology = Topology(worker_context(clock=clock))
    run(lambda: topology.send(*hot_journey("cole", "cole@acme.io")))
    due = next_demotion(topology.stored("cole"), topology.context.model())
    assert due is not None and due > clock.now()
    decay = command_records.encode_command(command_records.DECAY, "cole", clock.now(), due=due)

    run(lambda: topology.command(b"cole", decay))  # early: nothing is due yet
    assert len(topology.changes("cole")) == 3
    clock.at = due
    run(lambda: topology.command(b"cole", decay))

    demotion = topology.changes("cole")[-1]
    assert demotion["cause"]["type"] == "decay" and demotion["from_temperature"] == "hot"
    assert demotion["cause"]["crossing_time"] == demotion["event_time"]
    assert topology.stored("cole").temperature.value == demotion["to_temperature"]


def test_an_erased_lead_is_tombstoned_recorded_and_its_later_events_ignored():
    topology = Topology()
    run(lambda: topology.send(*hot_journey("erin", "erin@acme.io")))
    leads_changelog = topology.context.leads.changelog
    erase = command_records.encode_command(command_records.ERASE, "erin", NOW.timestamp())

    run(lambda: topology.command(b"erin", erase))

    assert b"erin" not in topology.context.leads.data
    assert topology.on(leads_changelog)[-1] == (b"erin", None)  # the changelog forgets it too
    assert b"erin" not in topology.context.erasures.data  # the suppression names no one: a digest
    assert erasure_key(b"erin", PARTITIONS) in topology.context.erasures.data
    erased = orjson.loads(topology.on(topology.context.topics.qualification)[-1][1])
    assert erased["kind"] == "lead_erased" and erased["lead_id"] == "erin"
    ignored = counted("leadstream_events_ignored_total", reason="erased_lead")
    changes = len(topology.changes())

    run(lambda: topology.send(page("erin", "erin-9", "/pricing", 9)))

    assert counted("leadstream_events_ignored_total", reason="erased_lead") == ignored + 1
    assert b"erin" not in topology.context.leads.data and len(topology.changes()) == changes


def test_malformed_json_is_dead_lettered_with_its_reason_and_original_bytes():
    topology = Topology()
    broken = b'{"type": "page", "userId": "mal'
    run(lambda: topology.ingest(record("leads.events.raw", b"mal", broken, partition=2, offset=41)))

    [(key, value)] = topology.on(topology.context.topics.dead_letters)
    letter = orjson.loads(value)
    assert letter["reason"] == "malformed_json"
    assert base64.b64decode(letter["value_base64"]) == broken
    assert letter["source"] == {**letter["source"], "topic": "leads.events.raw", "partition": 2, "offset": 41}
    assert topology.changes() == [] and not topology.context.leads.data


def test_a_batch_sends_its_changelog_records_first_then_changes_and_forwards_in_decision_order():
    topology = Topology()
    topics, leads_changelog = topology.context.topics, topology.context.leads.changelog
    first, second = "ana", "ben"
    wanderer = next(f"walt-{n}" for n in range(100) if partition_for(f"walt-{n}".encode(), PARTITIONS) != 0)
    batch = [raw(identify(first, "o-1", "ana@acme.io")),
             raw(page(wanderer, "o-2", "/pricing"), partition=0),  # not its partition: forwarded
             raw(identify(second, "o-3", "ben@acme.io"))]

    run(lambda: pipeline.ingest(topology.context, batch))  # one batch, nothing handed on

    sent = [(topic, key) for topic, key, _ in topology.sent]
    assert sent == [(leads_changelog, first.encode()), (leads_changelog, second.encode()),
                    (topics.qualification, first.encode()), (topics.signals, wanderer.encode()),
                    (topics.qualification, second.encode()),
                    # each lead's e-mail, for its partition's index (erasure by e-mail), then the account
                    (topics.signals, b"ana@acme.io"), (topics.signals, b"ben@acme.io"),
                    (topics.account_members, b"acme.io")]
