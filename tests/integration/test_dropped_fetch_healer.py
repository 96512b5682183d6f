"""The dropped-fetch healer (streams/faust_ext/dropped_fetch.py, docs/design.md §9 item 6) on a real client and Faust's consumer.

A fetch is dropped the way faust-streaming drops one after a takeover: the client hands the
records out and moves past them, and Faust never delivers them (its read offset stays put).
The healer must read that partition again from its committed offset, counted in
``leadstream_partitions_reread_total``, and leave a partition whose records were delivered alone.
"""

from __future__ import annotations

import logging

import pytest
from faust.types import TP
from prometheus_client import REGISTRY

from streams.faust_ext.dropped_fetch import DroppedFetchHealer
from tests.faust_overrides import only_override
from tests.integration.real_client import assigned_client, faust_consumer_over, fetched, new_topic, position, produce, values

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

RECORDS = 3
REREAD = "leadstream_partitions_reread_total"


def rereads() -> float:
    return REGISTRY.get_sample_value(REREAD) or 0.0


async def test_a_partition_whose_fetch_was_dropped_is_read_again_and_a_delivered_one_is_left_alone(kafka_bootstrap, caplog):
    tps = await new_topic(kafka_bootstrap, 2)
    dropped, delivered = tps
    await produce(kafka_bootstrap, tps, RECORDS)
    async with assigned_client(kafka_bootstrap, tps) as client:
        consumer = faust_consumer_over(client)
        app = consumer.app
        app.tables.recovery.completed.set()  # outside recovery, as the worker's timer runs it
        with only_override("getmany"):
            await fetched(client, tps)
            handed_out = await consumer._thread.getmany(set(tps), timeout=1.0)
        consumer._read_offset[delivered] = handed_out[delivered][-1].offset  # as Faust's fetch loop records a delivery
        healer, before = DroppedFetchHealer(), rereads()

        await healer.check(app)
        assert position(client, dropped) == RECORDS and rereads() == before, "healed on one sighting"
        with caplog.at_level(logging.WARNING, logger="streams.faust_ext.dropped_fetch"):
            await healer.check(app)  # the same state twice running: the records are not coming

        assert position(client, dropped) == 0 and position(client, delivered) == RECORDS
        assert rereads() == before + 1
        healed = [record.getMessage() for record in caplog.records if record.name == "streams.faust_ext.dropped_fetch"]
        assert healed == [f"{TP(dropped.topic, dropped.partition)}: fetched up to {RECORDS}"
                          " but delivered only up to None; reading again from 0"]
        await fetched(client, [dropped])
        with only_override("getmany"):
            assert values(await consumer._thread.getmany({dropped}, timeout=1.0)) == {0: [b"0:0", b"0:1", b"0:2"]}


async def test_the_healer_leaves_every_partition_alone_when_each_delivered_what_was_fetched(kafka_bootstrap):
    """What the healer reads of aiokafka (fetch positions, its buffered records) and of Faust agrees on a healthy consumer."""
    tps = await new_topic(kafka_bootstrap, 2)
    await produce(kafka_bootstrap, tps, RECORDS)
    async with assigned_client(kafka_bootstrap, tps) as client:
        consumer = faust_consumer_over(client)
        consumer.app.tables.recovery.completed.set()
        with only_override("getmany"):
            await fetched(client, tps)
            first = await consumer._thread.getmany({tps[0]}, timeout=1.0)
        consumer._read_offset[tps[0]] = first[tps[0]][-1].offset
        healer, before = DroppedFetchHealer(), rereads()

        for _ in range(3):  # the second partition's records still wait in the client's buffer, unread
            await healer.check(consumer.app)

        assert consumer.assignment() == set(tps) and healer.suspects == {}
        assert [position(client, tp) for tp in tps] == [RECORDS, 0] and rereads() == before
