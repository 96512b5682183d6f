"""The local brokers, exercised for real: processes, ports, data dirs and Kafka clients."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.devtools.brokers import ApacheKafka, BrokerBinaryMissing, EmbeddedBroker, PortInUse

CONSUME_TIMEOUT_SECONDS = 15.0


# --- helpers ----------------------------------------------------------------------------------


def unique_topic() -> str:
    return f"brokers-test-{uuid.uuid4().hex[:8]}"


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, count: int) -> list[bytes]:
    """The first `count` values of the topic (no consumer group, so no join to wait for)."""
    # A short fetch wait: Tansu holds a long-poll to its end even when data arrives.
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        while len(values) < count:
            record = await asyncio.wait_for(consumer.getone(), CONSUME_TIMEOUT_SECONDS)
            values.append(record.value)
        return values
    finally:
        await consumer.stop()


@pytest.fixture
def bound_port() -> Iterator[int]:
    """A loopback port some other program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        yield squatter.getsockname()[1]


# --- Apache Kafka -----------------------------------------------------------------------------


@pytest.mark.kafka
async def test_a_message_produced_to_apache_kafka_is_consumed_back(kafka_bootstrap: str) -> None:
    topic = unique_topic()
    await create_topic(kafka_bootstrap, topic)

    await produce(kafka_bootstrap, topic, b"lead-42 visited pricing")

    assert await consume(kafka_bootstrap, topic, count=1) == [b"lead-42 visited pricing"]


@pytest.mark.kafka
async def test_topics_and_messages_survive_restarts_on_the_same_data_dir(
    apache_kafka_factory: Callable[..., ApacheKafka], tmp_path: Path
) -> None:
    data_dir = tmp_path / "kafka"
    topic = unique_topic()
    first = apache_kafka_factory(data_dir=data_dir, partitions=1)
    bootstrap = first.start()
    await create_topic(bootstrap, topic)
    await produce(bootstrap, topic, b"kept")

    assert first.restart() == bootstrap, "restart() keeps the ports clients already know"
    await produce(bootstrap, topic, b"kept after restart")
    first_pid = first.pid
    first.stop()
    assert first_pid is not None and not process_exists(first_pid), "stop() leaves no process behind"

    # A new instance, as a second `leadstream kafka --data-dir` run would create: new ports, no format.
    with apache_kafka_factory(data_dir=data_dir, partitions=1) as second:
        assert topic in await list_topics(second.bootstrap)
        assert await consume(second.bootstrap, topic, count=2) == [b"kept", b"kept after restart"]
        second_pid = second.pid
    assert second_pid is not None and not process_exists(second_pid)
    assert data_dir.exists(), "a data dir the caller chose is never removed"


@pytest.mark.kafka
def test_apache_kafka_on_a_port_already_in_use_raises_port_in_use(bound_port: int) -> None:
    kafka = ApacheKafka(port=bound_port)

    with pytest.raises(PortInUse, match=str(bound_port)):
        kafka.start()
    assert kafka.pid is None


# --- embedded Tansu ---------------------------------------------------------------------------


@pytest.mark.embedded
async def test_a_message_produced_to_the_embedded_broker_is_consumed_back(embedded_bootstrap: str) -> None:
    topic = unique_topic()
    await create_topic(embedded_bootstrap, topic)

    await produce(embedded_bootstrap, topic, b"lead-7 opened an email")

    assert await consume(embedded_bootstrap, topic, count=1) == [b"lead-7 opened an email"]


@pytest.mark.embedded
def test_stopping_the_embedded_broker_leaves_no_process() -> None:
    with EmbeddedBroker() as broker:
        assert broker.bootstrap.startswith("127.0.0.1:")
        pid = broker.pid
    assert pid is not None and not process_exists(pid)


@pytest.mark.embedded
def test_the_embedded_broker_on_a_port_already_in_use_raises_port_in_use(bound_port: int) -> None:
    broker = EmbeddedBroker(port=bound_port)

    with pytest.raises(PortInUse, match=str(bound_port)):
        broker.start()
    assert broker.pid is None


@pytest.mark.embedded
def test_a_missing_tansu_binary_raises_binary_missing_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-such-tansu"))

    with pytest.raises(BrokerBinaryMissing, match="CALF_TANSU_BIN"):
        EmbeddedBroker().start()
