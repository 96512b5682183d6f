"""Identity stitching in the stream: anonymous history is held per visitor and credited to the lead once."""

from __future__ import annotations

import asyncio
import base64

import orjson
import pytest
import pytest_asyncio

from streams.contracts.partitioning import partition_for
from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, identify_visitor, page, start_pipeline, stop_pipeline, visit,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("stitching"))
    yield running
    await stop_pipeline(running)


def counts(document: dict) -> dict[str, int]:
    return {c["signal"]: c["count"] for c in document["contributions"]}


def apart(prefix: str, lead: str) -> str:
    """A visitor id on another partition than the lead's: stitching must cross partitions."""
    return next(v for v in (f"{prefix}-{n}" for n in range(100))
                if partition_for(v.encode(), TEST_PARTITIONS) != partition_for(lead.encode(), TEST_PARTITIONS))


async def test_anonymous_visits_are_held_then_credited_to_the_lead_once_even_if_identify_comes_twice(
    pipeline: RunningPipeline,
):
    lead = "stitched-1"
    visitor = apart("visitor-a", lead)
    before = await pipeline.settled_accounting()
    await pipeline.send_all([visit(visitor, "sa-1", "/product", 0), visit(visitor, "sa-2", "/pricing", 1),
                             visit(visitor, "sa-3", "/pricing/enterprise", 2)])
    held = await pipeline.settled_accounting()
    assert held["held"] - before["held"] == 3
    status, waiting = await pipeline.lead(visitor)  # a visitor is not a lead: the API says what it holds
    assert status == 200 and (waiting["status"], waiting["held_events"]) == ("held", 3) and "stage" not in waiting
    assert held["scored"] == before["scored"]

    await pipeline.send(identify_visitor(lead, visitor, "sa-id-1", "ada@acme.io", 3))
    await pipeline.send(identify_visitor(lead, visitor, "sa-id-2", "ada@acme.io", 4))  # a second identify
    # The identifies alone balance the accounting (the visits still held): wait for the release first.
    document = await pipeline.lead_when(lead, lambda d: counts(d).get("pricing_view") == 2)
    after = await pipeline.settled_accounting()

    assert counts(document) == {"product_view": 1, "pricing_view": 2}
    assert after["held"] == before["held"]
    assert after["scored"] - before["scored"] == 5  # three visits and two identifies
    assert after["balanced"]
    # The visits came first in event time: the lead's changes say so.
    changes = await pipeline.changes_for(lead, count=1)
    assert changes[0]["to_stage"] == "iql"


async def test_later_anonymous_visits_of_an_identified_visitor_go_straight_to_the_lead(pipeline: RunningPipeline):
    lead = "stitched-2"
    visitor = apart("visitor-b", lead)
    await pipeline.send(identify_visitor(lead, visitor, "sb-id", "bo@globex.com", 0))
    await pipeline.lead_when(lead, lambda d: d["profile"].get("email") == "bo@globex.com")
    before = await pipeline.settled_accounting()

    await pipeline.send_all([visit(visitor, "sb-1", "/pricing", 1), visit(visitor, "sb-2", "/product", 2)])
    after = await pipeline.settled_accounting()
    document = await pipeline.lead_when(lead, lambda d: len(d["contributions"]) == 2)

    assert counts(document) == {"pricing_view": 1, "product_view": 1}
    assert after["scored"] - before["scored"] == 2 and after["held"] == before["held"]


async def test_visits_keyed_by_something_else_still_reach_the_visitors_partition(pipeline: RunningPipeline):
    lead, visitor = "stitched-3", "visitor-c"
    # Keyed by the lead id, or by nothing at all: the worker repartitions them by visitor id.
    await pipeline.send(visit(visitor, "sc-1", "/pricing", 0), key=lead)
    await pipeline.send(visit(visitor, "sc-2", "/pricing", 1), key=b"")
    await pipeline.settled_accounting()
    await pipeline.send(identify_visitor(lead, visitor, "sc-id", "cy@initech.com", 2), key="not-the-lead")

    document = await pipeline.lead_when(lead, lambda d: counts(d).get("pricing_view") == 2)
    assert document["profile"]["email"] == "cy@initech.com"
    forwarded = [orjson.loads(value) for _, value in pipeline.recorder.records[pipeline.topic("leads.signals")]]
    assert forwarded
    for message in forwarded:
        assert_matches_contract("leads.signals", message)
    assert {m["command"] for m in forwarded if "command" in m} >= {"stitch", "release"}


async def test_a_form_giving_an_email_identifies_the_visitor_as_a_lead_named_by_that_email(pipeline: RunningPipeline):
    visitor = "visitor-d"
    await pipeline.send(visit(visitor, "sd-1", "/pricing", 0))
    await pipeline.send({"type": "track", "messageId": "sd-form", "anonymousId": visitor, "event": "Demo Requested",
                         "properties": {"email": "Dee@Hooli.com", "name": "Dee"}, "timestamp": "2026-11-02T09:05:00Z"})

    document = await pipeline.lead_when("dee@hooli.com", lambda d: "pricing_view" in counts(d))
    assert counts(document) == {"pricing_view": 1, "demo_request": 1}


async def test_a_bot_visitor_is_ignored_not_held(pipeline: RunningPipeline):
    before = await pipeline.settled_accounting()
    await pipeline.send_all({**visit("crawler-1", f"bot-{n}", "/pricing", n),
                             "context": {"userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}} for n in range(5))
    after = await pipeline.settled_accounting()

    assert after["ignored_by_reason"]["bot"] - before["ignored_by_reason"].get("bot", 0) == 5
    assert after["held"] == before["held"]


async def test_no_whole_ip_address_goes_past_the_ingest_agent(pipeline: RunningPipeline):
    await pipeline.send({**page("ip-lead", "ip-1", "/pricing"), "context": {"ip": "198.51.100.77"},
                         "properties": {"path": "/pricing", "note": "from 2001:db8:1234:5678:9abc::1"}})
    broken = b'{"type": "page", "context": {"ip": "198.51.100.78"}, "broken'
    await pipeline.send(broken, key=b"203.0.113.99")

    def truncated_key(letter: dict) -> bool:
        return letter["key_base64"] is not None and base64.b64decode(letter["key_base64"]) == b"203.0.113.0"

    letters = await pipeline.recorder.wait_for(pipeline.topic("leads.events.dlq"),
                                               lambda records: any(map(truncated_key, records)))
    letter = next(filter(truncated_key, letters))
    assert base64.b64decode(letter["value_base64"]) == broken.replace(b"198.51.100.78", b"198.51.100.0")
    await pipeline.settled_accounting()
    for text in everything_written(pipeline):
        for whole in (b"198.51.100.77", b"198.51.100.78", b"203.0.113.99", b"9abc::1"):
            assert whole not in text, text


def everything_written(pipeline: RunningPipeline) -> list[bytes]:
    """Keys and values the workers wrote, with the dead letters' base64 copies decoded."""
    texts = []
    for topic in ("leads.events.dlq", "leads.signals", "leads.qualification"):
        for key, value in pipeline.recorder.records[pipeline.topic(topic)]:
            texts.append((key or b"") + value)
            if topic == "leads.events.dlq":
                letter = orjson.loads(value)
                texts += [base64.b64decode(letter[field]) for field in ("key_base64", "value_base64") if letter[field]]
    return texts


async def test_visits_and_identify_sent_straight_to_kafka_are_stitched_across_a_worker_restart(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("restart"))
    try:
        lead = "restarted-1"
        visitor = apart("visitor-r", lead)
        await running.send_all([visit(visitor, "sr-1", "/product", 0), visit(visitor, "sr-2", "/pricing", 1),
                                visit(visitor, "sr-3", "/pricing", 2)])
        assert (await running.settled_accounting())["held"] == 3

        assert running.worker.stop() == 0, running.worker.log_tail()
        running.worker.start()
        await running.worker.wait_ready()
        # The new process holds what its predecessor held, and counts it as received by hand-over.
        taken_over = await running.settled_accounting()
        assert taken_over["held"] == 3
        assert taken_over["received_by_source"] == {"handover": 3}

        await running.send(identify_visitor(lead, visitor, "sr-id", "rae@stark.io", 3))
        await running.send(identify_visitor(lead, visitor, "sr-id-again", "rae@stark.io", 4))
        document = await running.lead_when(lead, lambda d: counts(d).get("pricing_view") == 2)
        accounting = await running.settled_accounting()

        assert counts(document) == {"product_view": 1, "pricing_view": 2}
        assert accounting["held"] == 0
        assert accounting["scored"] == 5
        assert accounting["received"] == 5 and accounting["balanced"]
    finally:
        await stop_pipeline(running)


@pytest_asyncio.fixture(loop_scope="session")
async def short_memory(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("expiry"),
                                   env={"LEADSTREAM_ANONYMOUS_TTL_S": "2", "LEADSTREAM_ANONYMOUS_MAX_EVENTS": "3"})
    yield running
    await stop_pipeline(running)


async def test_held_history_expires_into_ignored_and_the_bound_drops_the_oldest(short_memory: RunningPipeline):
    await short_memory.send_all(visit("forgotten", f"fg-{n}", "/pricing", n) for n in range(5))
    accounting = await short_memory.settled_accounting()
    # Three held; the two oldest made way for them.
    assert (accounting["held"], accounting["ignored_by_reason"].get("expired_anonymous")) in {(3, 2), (0, 5)}

    for _ in range(60):
        accounting = await short_memory.settled_accounting()
        if accounting["held"] == 0:
            break
        await asyncio.sleep(0.5)
    assert accounting["held"] == 0
    assert accounting["ignored_by_reason"]["expired_anonymous"] == 5
    assert accounting["balanced"]

    # Identified after it expired: nothing is left to credit.
    await short_memory.send(identify_visitor("forgotten-lead", "forgotten", "fg-id", "fo@acme.io", 10))
    document = await short_memory.lead_when("forgotten-lead", lambda d: d["profile"].get("email") == "fo@acme.io")
    assert document["contributions"] == []
