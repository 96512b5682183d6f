"""What the Faust overrides assume of aiokafka, checked on the real client against Apache Kafka (docs/design.md §9).

The unit tests of the getmany and seek overrides run against stand-ins that behave as the
Kafka client did when the overrides were written; these tests hold the real client to that, so
an aiokafka release that changes it fails here. Each also shows, on the real client, what the
override changes: Faust's original loses records, the override keeps them.
"""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from tests.faust_overrides import only_override
from tests.integration.real_client import (
    assigned_client,
    faust_consumer_over,
    fetched,
    new_topic,
    position,
    produce,
    until,
    values,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

RECORDS = 3  # per partition
EVERY_RECORD = [f"{{p}}:{n}" for n in range(RECORDS)]


def all_of(partition: int) -> list[bytes]:
    return [value.format(p=partition).encode() for value in EVERY_RECORD]


async def test_an_empty_partition_set_makes_the_client_hand_out_every_partition_and_move_past_it(kafka_bootstrap):
    """The premise of the getmany override (fixes._getmany_of_partitions_active_now): aiokafka reads "no partitions" as all.

    Faust's original getmany hands the client its set of active partitions as it is; empty
    for a moment during recovery, the client returns the records of partitions Faust paused
    and moves its positions past them, and Faust then discards them as not active.
    """
    tps = await new_topic(kafka_bootstrap, 2)
    await produce(kafka_bootstrap, tps, RECORDS)
    async with assigned_client(kafka_bootstrap, tps) as client:
        thread = faust_consumer_over(client)._thread
        await fetched(client, tps)

        with only_override(None):
            handed_out = await thread.getmany(set(), timeout=1.0)

        assert values(handed_out) == {0: all_of(0), 1: all_of(1)}
        assert [position(client, tp) for tp in tps] == [RECORDS, RECORDS]


async def test_with_the_getmany_override_no_active_partition_takes_nothing_and_a_paused_one_keeps_its_records(kafka_bootstrap):
    """The getmany override on the real client: an empty set fetches nothing; a named set leaves the others buffered, unmoved."""
    tps = await new_topic(kafka_bootstrap, 2)
    active, paused = tps
    await produce(kafka_bootstrap, tps, RECORDS)
    async with assigned_client(kafka_bootstrap, tps) as client:
        thread = faust_consumer_over(client)._thread
        await fetched(client, tps)

        with only_override("getmany"):
            assert await thread.getmany(set(), timeout=1.0) == {}
            assert values(await thread.getmany({active}, timeout=1.0)) == {0: all_of(0)}
            assert position(client, paused) == 0 and paused in client._fetcher._records

            assert values(await thread.getmany({paused}, timeout=1.0)) == {1: all_of(1)}  # resumed later


async def read_everything(client, thread, tps) -> None:
    with only_override("getmany"):
        await fetched(client, tps)
        await thread.getmany(set(tps), timeout=1.0)
    assert [position(client, tp) for tp in tps] == [RECORDS] * len(tps)


async def test_the_seek_to_committed_offsets_moves_no_partition_without_a_commit_nor_one_committed_at_zero(kafka_bootstrap):
    """The premise of the seek override (fixes._seek_to_committed_or_to_the_start), on aiokafka alone.

    ``seek_to_committed`` reports every assigned partition, None where nothing was ever
    committed, and moves only a partition committed past 0: a partition the worker kept
    through a rebalance carries on past records it fetched and dropped.
    """
    tps = await new_topic(kafka_bootstrap, 3)
    never, at_zero, committed = tps
    await produce(kafka_bootstrap, tps, RECORDS)
    async with assigned_client(kafka_bootstrap, tps) as client:
        await read_everything(client, faust_consumer_over(client)._thread, tps)
        await client.commit({at_zero: 0, committed: 2})

        assert await client.seek_to_committed() == {never: None, at_zero: 0, committed: 2}
        assert [position(client, tp) for tp in tps] == [RECORDS, RECORDS, 2]


async def test_with_the_seek_override_a_partition_never_committed_is_read_again_from_its_start(kafka_bootstrap):
    """Faust's own seek after recovery (``Consumer.perform_seek``), without and then with the seek override."""
    tps = await new_topic(kafka_bootstrap, 3)
    never, at_zero, committed = tps
    await produce(kafka_bootstrap, tps, RECORDS)
    async with assigned_client(kafka_bootstrap, tps) as client:
        consumer = faust_consumer_over(client)
        await read_everything(client, consumer._thread, tps)
        await client.commit({at_zero: 0, committed: 2})

        with only_override(None):
            await consumer.perform_seek()
        assert [position(client, tp) for tp in tps] == [RECORDS, RECORDS, 2], "the dropped records would be skipped"

        with only_override("seek_to_committed"):
            await consumer.perform_seek()
        assert [position(client, tp) for tp in tps] == [0, 0, 2]
        assert consumer._read_offset[never] is None and consumer._committed_offset[committed] == 2
        await fetched(client, [never])
        with only_override("getmany"):
            assert values(await consumer._thread.getmany({never}, timeout=1.0)) == {0: all_of(0)}


async def test_a_seek_to_offset_zero_the_broker_no_longer_holds_reads_from_its_first_record(kafka_bootstrap):
    """The seek override seeks to 0 "from the first offset the broker still holds": aiokafka's reset to earliest does that."""
    tps = await new_topic(kafka_bootstrap, 1)
    (tp,) = tps
    await produce(kafka_bootstrap, tps, RECORDS)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(before_offset=1)})
    finally:
        await admin.close()
    async with assigned_client(kafka_bootstrap, tps) as client:
        thread = faust_consumer_over(client)._thread
        await read_everything(client, thread, tps)

        thread.seek(tp, 0)  # as the override does
        await until(lambda: tp in client._fetcher._records, "the partition fetched again")
        with only_override("getmany"):
            again = (await thread.getmany({tp}, timeout=1.0))[tp]

        assert [record.offset for record in again] == [1, 2]
