"""Hostile bursts on real Kafka: no record the worker writes can exceed what the broker takes.

One batch once carried an accounts.members record with an entry for every lead it scored at
a company: a burst of identified leads with long ids at one long domain made it larger than the
broker's 1 MB limit, the send error stopped the worker, and the redelivered batch rebuilt the
same record at every restart. Now member updates are split under LEADSTREAM_MAX_RECORD_BYTES,
and a record the broker still refuses is dead-lettered (reason ``record_too_large``) while the
worker goes on.
"""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.config.environment import DEFAULT_MAX_RECORD_BYTES
from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, identify, page, start_pipeline, stop_pipeline,
)

pytestmark = [pytest.mark.kafka, pytest.mark.security, pytest.mark.asyncio(loop_scope="session")]

BURST = 3000
BROKER_LIMIT = 8 * 1024  # max.message.bytes of the second pipeline's accounts.members topic, under the budget
# A long company domain, short enough that "person2999@<domain>" stays within the 200 characters a
# profile field keeps (a longer address would be cut, and so name another domain).
LONG_DOMAIN = ".".join(["a" * 60, "b" * 60, "c" * 50, "com"])


def long_id(n: int, tag: str) -> str:
    """A 256-character lead id, the longest the edge accepts."""
    return f"{tag}-{n:05d}-".ljust(256, "x")


async def burst(pipeline: RunningPipeline, tag: str, count: int, domain: str) -> list[str]:
    """``count`` identified leads at ``domain``, produced at once: a few large produce requests, so the
    worker fetches them in a few large batches, as it would a real burst."""
    leads = [long_id(n, tag) for n in range(count)]
    topic = pipeline.topic("leads.events.raw")
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap, linger_ms=500, max_batch_size=1_000_000)
    await producer.start()
    try:
        deliveries = [await producer.send(topic, orjson.dumps(identify(lead, f"{tag}-{n}", f"person{n}@{domain}")),
                                          key=lead.encode()) for n, lead in enumerate(leads)]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    pipeline.sent += count
    return leads


async def member_updates(pipeline: RunningPipeline, domain: str, leads: list[str]) -> list[bytes]:
    """The accounts.members records of ``domain``, once they name every one of ``leads``."""
    topic, key, wanted = pipeline.topic("accounts.members"), domain.encode(), set(leads)
    deadline = asyncio.get_running_loop().time() + 60.0
    while True:
        values = [value for k, value in pipeline.recorder.records[topic] if k == key]
        named = {member["lead_id"] for value in values for member in orjson.loads(value)["members"]}
        if named >= wanted:
            return values
        assert asyncio.get_running_loop().time() < deadline, f"{len(wanted - named)} leads never reached the account"
        await asyncio.sleep(0.2)


async def later_lead_is_scored(pipeline: RunningPipeline, lead: str) -> None:
    """A lead sent after the burst is scored: the worker is still up and reading."""
    await pipeline.send(page(lead, f"{lead}-1", "/pricing"))
    await pipeline.changes_for(lead, count=1, timeout=60.0)
    status, document = await pipeline.lead(lead)
    assert status == 200 and document["lead_id"] == lead, document
    assert pipeline.worker.process.poll() is None, pipeline.worker.log_tail()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("bounded"))
    yield running
    await stop_pipeline(running)


async def test_a_burst_at_one_long_domain_splits_its_account_updates_and_every_event_is_accounted_for(
    pipeline: RunningPipeline,
):
    leads = await burst(pipeline, "burst", BURST, LONG_DOMAIN)

    accounting = await pipeline.settled_accounting(timeout=120.0)
    assert accounting["received"] == pipeline.sent and accounting["balanced"], accounting
    assert accounting["scored"] == BURST and accounting["dead_lettered"] == 0, accounting
    assert pipeline.worker.process.poll() is None, pipeline.worker.log_tail()
    updates = await member_updates(pipeline, LONG_DOMAIN, leads)
    assert len(updates) > 1, "the burst's account updates should have been split"
    assert max(len(value) for value in updates) <= DEFAULT_MAX_RECORD_BYTES
    assert_matches_contract("accounts.members", orjson.loads(updates[0]))
    await later_lead_is_scored(pipeline, "after-burst")


async def test_an_id_over_the_documented_limit_is_dead_lettered_at_the_edge_with_its_reason(
    pipeline: RunningPipeline,
):
    lead = "x" * 257
    await pipeline.send(page(lead, "too-long-1", "/pricing"))
    letters = await pipeline.recorder.wait_for(pipeline.topic("leads.events.dlq"), lambda records: any(
        "userId" in letter["detail"] for letter in records))
    letter = next(letter for letter in letters if "userId" in letter["detail"])
    assert letter["reason"] == "invalid_field" and "256" in letter["detail"], letter
    accounting = await pipeline.settled_accounting()
    assert accounting["dead_lettered_by_reason"] == {"invalid_field": 1}, accounting


# --- the last resort: a record the broker refuses anyway ---------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def strict_broker_pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    """A worker whose accounts.members topic takes records of at most BROKER_LIMIT bytes (below its budget)."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(prefix + "accounts.members", TEST_PARTITIONS, 1,
                                            topic_configs={"max.message.bytes": str(BROKER_LIMIT)})])
    finally:
        await admin.close()
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("strict"), prefix=prefix)
    yield running
    await stop_pipeline(running)


async def test_a_record_the_broker_refuses_is_dead_lettered_with_the_reason_and_the_worker_goes_on(
    strict_broker_pipeline: RunningPipeline,
):
    pipeline = strict_broker_pipeline
    await burst(pipeline, "refused", 200, LONG_DOMAIN)

    letters = await pipeline.recorder.wait_for(pipeline.topic("leads.events.dlq"), lambda records: any(
        letter["reason"] == "record_too_large" for letter in records), timeout=60.0)
    refused = [letter for letter in letters if letter["reason"] == "record_too_large"]
    assert all(letter["source"]["topic"] == pipeline.topic("accounts.members") for letter in refused), refused
    assert_matches_contract("leads.events.dlq", refused[0])
    accounting = await pipeline.settled_accounting(timeout=60.0)
    assert accounting["received"] == pipeline.sent and accounting["scored"] == 200, accounting
    assert accounting["dead_lettered"] == 0, "an output refused is not an inbound event dead-lettered"
    await later_lead_is_scored(pipeline, "after-refusal")
