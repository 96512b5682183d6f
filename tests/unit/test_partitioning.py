"""Our murmur2 must place every key exactly where Kafka's default partitioner (aiokafka's) does."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2 as reference_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contracts.partitioning import murmur2, partition_for


@settings(max_examples=2000)
@given(st.binary(max_size=200))
def test_murmur2_equals_the_kafka_clients_for_any_bytes(data: bytes):
    assert murmur2(data) == reference_murmur2(data)


@given(st.text(min_size=1, max_size=80), st.integers(min_value=1, max_value=64))
def test_a_lead_id_lands_on_the_partition_the_default_partitioner_picks(lead_id: str, partitions: int):
    key = lead_id.encode()
    all_partitions = list(range(partitions))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, all_partitions, all_partitions)


def test_known_values_from_the_java_client():
    # org.apache.kafka.common.utils.UtilsTest.testMurmur2
    assert murmur2(b"21") == 0xFFFFFFFF & -973932308
    assert murmur2(b"foobar") == 0xFFFFFFFF & -790332482
    assert murmur2(b"a-little-bit-long-string") == 0xFFFFFFFF & -985981536
    assert murmur2(b"a-little-bit-longer-string") == 0xFFFFFFFF & -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == 0xFFFFFFFF & -58897971


@given(st.binary(min_size=1, max_size=60), st.integers(min_value=1, max_value=64))
def test_the_producers_partitioner_sends_each_key_where_aiokafkas_default_would(key: bytes, partitions: int):
    from streams.contracts.partitioning import kafka_partitioner

    all_partitions = list(range(partitions))
    assert kafka_partitioner(key, all_partitions, all_partitions) == DefaultPartitioner()(
        key, all_partitions, all_partitions)
