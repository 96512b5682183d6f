"""Managed-Kafka settings against a real Apache Kafka that requires SASL.

One SASL_PLAINTEXT node for the module (PLAIN and SCRAM-SHA-256, no PLAINTEXT listener at all),
so a client that forgot its credentials cannot reach it: the worker, driven only by the
KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_* variables, scores a journey end to end; with a wrong
password it never becomes ready and its log says why. The harness's own producer and recorder
connect without credentials, so this module builds SASL ones from the same KafkaSecurity.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools.brokers import ApacheKafka
from streams.config.kafka_security import KafkaSecurity
from streams.devtools.processes import WorkerFailed, WorkerProcess
from streams.failures import EXIT_KAFKA_REFUSED
from tests.integration.kafka_fixture import KAFKA_TEST_PARTITIONS, require_kafka_toolchain
from tests.integration.pipeline_harness import (
    FAST_WORKER_ENV, SCRIPTED_CLOCK_ENV, TEST_PARTITIONS, RunningPipeline, TopicRecorder, identify, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

USER, PASSWORD = "leadstream-app", "correct-horse-battery"
RECORDED = ("leads.qualification", "leads.events.dlq", "leads.signals")


def sasl(mechanism: str = "PLAIN", password: str = PASSWORD) -> KafkaSecurity:
    return KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism, sasl_username=USER,
                         sasl_password=password)


def sasl_env(mechanism: str = "PLAIN", password: str = PASSWORD) -> dict[str, str]:
    """What an operator sets for a managed cluster: nothing else changes."""
    return {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": mechanism,
            "KAFKA_SASL_USERNAME": USER, "KAFKA_SASL_PASSWORD": password}


def worker_on(bootstrap: str, log_dir: Path, env: dict[str, str]) -> tuple[WorkerProcess, str]:
    """A worker on its own topics and group, as start_pipeline builds them, plus `env`."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    worker = WorkerProcess(bootstrap, log_dir / f"worker-{prefix}log", env={
        **FAST_WORKER_ENV,
        **SCRIPTED_CLOCK_ENV,
        "LEADSTREAM_APP_ID": f"leadstream-{prefix[:-1]}",
        "LEADSTREAM_TOPIC_PREFIX": prefix,
        "LEADSTREAM_PARTITIONS": str(TEST_PARTITIONS),
        "LEADSTREAM_DATA_DIR": str(log_dir / f"data-{prefix[:-1]}"),
        **env,
    })
    return worker, prefix


@dataclass
class SecureTopicRecorder(TopicRecorder):
    """TopicRecorder whose consumer connects with `security`."""

    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    def client_kwargs(self) -> dict[str, Any]:
        return self.security.client_kwargs()


@pytest.fixture(scope="module")
def sasl_kafka() -> Iterator[ApacheKafka]:
    """The module's SASL node (apache_kafka_factory builds per test; one node serves every test here)."""
    require_kafka_toolchain()
    with ApacheKafka(partitions=KAFKA_TEST_PARTITIONS, sasl_users={USER: PASSWORD}) as kafka:
        yield kafka


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sasl_pipeline(sasl_kafka: ApacheKafka, tmp_path_factory: pytest.TempPathFactory
                        ) -> AsyncIterator[RunningPipeline]:
    """A worker configured only through KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_*, with SASL test clients."""
    worker, prefix = worker_on(sasl_kafka.bootstrap, tmp_path_factory.mktemp("managed"), sasl_env("PLAIN"))
    worker.start()
    producer: AIOKafkaProducer | None = None
    recorder: SecureTopicRecorder | None = None
    try:
        await worker.wait_ready()
        # SCRAM for the test's own clients: both mechanisms of the listener are exercised.
        security = sasl("SCRAM-SHA-256")
        producer = AIOKafkaProducer(bootstrap_servers=sasl_kafka.bootstrap, linger_ms=0, **security.client_kwargs())
        await producer.start()
        recorder = SecureTopicRecorder(sasl_kafka.bootstrap, tuple(prefix + name for name in RECORDED),
                                       security=security)
        await recorder.start()
    except BaseException:
        for client in (recorder, producer):
            if client is not None:
                await client.stop()
        worker.stop()
        raise
    running = RunningPipeline(sasl_kafka.bootstrap, prefix, [worker], producer, recorder)
    yield running
    await stop_pipeline(running)


# --- the broker ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
async def test_the_sasl_node_serves_clients_with_the_right_password(sasl_kafka: ApacheKafka, mechanism: str):
    topic = f"managed-{mechanism.lower()}-{uuid.uuid4().hex[:8]}"
    kwargs = sasl(mechanism).client_kwargs()
    producer = AIOKafkaProducer(bootstrap_servers=sasl_kafka.bootstrap, **kwargs)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"over sasl")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=sasl_kafka.bootstrap, auto_offset_reset="earliest",
                                fetch_max_wait_ms=100, **kwargs)
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 15)
    finally:
        await consumer.stop()
    assert record.value == b"over sasl"
    assert sasl_kafka.security_protocol == "SASL_PLAINTEXT"


@pytest.mark.parametrize("security", [
    KafkaSecurity(),  # forgot the credentials altogether
    sasl("PLAIN", password="wrong"),
    sasl("SCRAM-SHA-256", password="wrong"),
], ids=["plaintext", "plain-wrong-password", "scram-wrong-password"])
async def test_the_sasl_node_refuses_clients_without_the_right_credentials(sasl_kafka: ApacheKafka,
                                                                           security: KafkaSecurity):
    producer = AIOKafkaProducer(bootstrap_servers=sasl_kafka.bootstrap, request_timeout_ms=5_000,
                                **security.client_kwargs())
    try:
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(producer.start(), 30)
    finally:
        await producer.stop()


# --- the worker ---------------------------------------------------------------------------------


def transitions(changes: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(c["from_stage"], c["to_stage"], c["from_temperature"], c["to_temperature"]) for c in changes]


async def test_a_worker_configured_for_sasl_scores_a_journey_end_to_end(sasl_pipeline: RunningPipeline):
    lead = "managed-1"
    await sasl_pipeline.send_all([
        identify(lead, "m1-1", "dana@acme.io", minutes=0),        # ICP traits (fit 100): IQL
        track(lead, "m1-2", "Webinar Attended", minutes=1),        # interest 20
        track(lead, "m1-3", "Case Study Downloaded", minutes=2),   # interest 30: MQL
        track(lead, "m1-4", "Demo Requested", minutes=3),          # intent 30, engagement 60: warm
    ])

    changes = await sasl_pipeline.changes_for(lead, count=3, timeout=60)

    assert transitions(changes) == [
        ("new", "iql", "cold", "cold"),
        ("iql", "mql", "cold", "cold"),  # 20 + 10 interest, decayed a minute's worth: just under warm
        ("mql", "mql", "cold", "warm"),
    ]
    assert [c["cause"]["event_id"] for c in changes] == ["m1-1", "m1-3", "m1-4"]
    assert changes[-1]["score"]["fit"] == 100
    accounting = await sasl_pipeline.settled_accounting()
    assert (accounting["received"], accounting["scored"], accounting["dead_lettered"]) == (4, 4, 0)
    # The worker's own clients (Faust's, topic creation, the lag probe) all logged in.
    assert "SaslAuthenticationFailed" not in sasl_pipeline.worker.log_path.read_text(errors="replace")


async def test_a_worker_with_a_wrong_password_never_becomes_ready_and_says_why(
    sasl_kafka: ApacheKafka, tmp_path: Path
):
    worker, _ = worker_on(sasl_kafka.bootstrap, tmp_path, sasl_env("PLAIN", password="not-the-password"))
    worker.start()
    try:
        # Checked before Faust starts, so the worker ends by itself (exit 4) instead of retrying.
        with pytest.raises(WorkerFailed, match=f"exited with {EXIT_KAFKA_REFUSED}"):
            await worker.wait_ready(timeout=25)
    finally:
        worker.kill()

    log = worker.log_path.read_text(errors="replace")
    assert "SaslAuthenticationFailed" in log
    assert "Authentication failed" in log
    assert "refused this client" in log and "KAFKA_SASL_MECHANISM/USERNAME/PASSWORD" in log and "Traceback" not in log
    assert "not-the-password" not in log  # the password itself is never logged


async def test_the_workers_lag_probe_reads_offsets_over_sasl(sasl_pipeline: RunningPipeline):
    """The probe's own admin client and consumer (not Faust's) carry the credentials too."""
    worker = sasl_pipeline.worker
    lag: list[Any] = []
    for _ in range(50):  # the probe runs every second here (FAST_WORKER_ENV)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.get(worker.url + "/metrics") as response:
                text = await response.text()
        lag = [sample for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "leadstream_consumer_lag"]
        if len(lag) == 2 * TEST_PARTITIONS:
            break
        await asyncio.sleep(0.5)

    assert {sample.labels["topic"] for sample in lag} == {
        sasl_pipeline.topic("leads.events.raw"), sasl_pipeline.topic("leads.signals")}
    assert "consumer lag probe failed" not in worker.log_path.read_text(errors="replace")
