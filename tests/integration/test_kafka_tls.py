"""Kafka over TLS against the project's own Apache Kafka: SSL, mutual TLS, SASL_SSL and the hostname check.

One node for the module, with a listener per case (streams/devtools/brokers/kafka_tls.py) and
certificates this module makes with `cryptography` (tls_certificates.py): the node's for
127.0.0.1, one for another host, a client certificate for mutual TLS. The clients are built
from the same KafkaSecurity the KAFKA_SECURITY_PROTOCOL / KAFKA_SSL_* / KAFKA_SASL_* variables
parse to; then a worker and a collector, configured only by those variables, score a journey
posted over HTTP on each protocol.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from streams.config.kafka_security import KafkaSecurity, security_from
from streams.devtools.brokers import (
    MTLS_LISTENER, SASL_SSL_LISTENER, SSL_LISTENER, WRONG_HOST_LISTENER, ApacheKafka,
)
from streams.devtools.processes import CollectorProcess, WorkerFailed
from tests.integration.kafka_fixture import KAFKA_TEST_PARTITIONS, require_kafka_toolchain
from tests.integration.pipeline_harness import TEST_PARTITIONS, identify, track
from tests.integration.test_managed_kafka import worker_on
from tests.integration.tls_certificates import TlsFiles, make_tls_files

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

USER, PASSWORD = "leadstream-app", "correct-horse-battery"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_kafka(tls_files: TlsFiles) -> Iterator[ApacheKafka]:
    require_kafka_toolchain()
    with ApacheKafka(partitions=KAFKA_TEST_PARTITIONS, sasl_users={USER: PASSWORD}, tls=tls_files.broker) as kafka:
        yield kafka


def tls_env(listener: str, files: TlsFiles, **overrides: str) -> dict[str, str]:
    """What an operator sets to reach `listener`: the CA always, a client certificate or SASL login where needed."""
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(files.ca)}
    if listener == MTLS_LISTENER:
        env.update(KAFKA_SSL_CERTFILE=str(files.client_cert), KAFKA_SSL_KEYFILE=str(files.client_key))
    if listener == SASL_SSL_LISTENER:
        env.update(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="SCRAM-SHA-256",
                   KAFKA_SASL_USERNAME=USER, KAFKA_SASL_PASSWORD=PASSWORD)
    return {**env, **overrides}


async def round_trip(bootstrap: str, security: KafkaSecurity) -> bytes:
    """Produces one record to a new topic and reads it back, both over `security`."""
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    kwargs = security.client_kwargs()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **kwargs)
    await asyncio.wait_for(producer.start(), 30)
    try:
        await producer.send_and_wait(topic, b"over tls")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                fetch_max_wait_ms=100, **kwargs)
    await asyncio.wait_for(consumer.start(), 30)
    try:
        return (await asyncio.wait_for(consumer.getone(), 15)).value
    finally:
        await consumer.stop()


async def refused(bootstrap: str, security: KafkaSecurity) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5_000, **security.client_kwargs())
    try:
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(producer.start(), 30)
    finally:
        await producer.stop()


# --- the broker ---------------------------------------------------------------------------------


@pytest.mark.parametrize("listener", [SSL_LISTENER, MTLS_LISTENER, SASL_SSL_LISTENER])
async def test_each_tls_listener_serves_a_client_configured_for_it(tls_kafka: ApacheKafka, tls_files: TlsFiles,
                                                                   listener: str):
    security = security_from(tls_env(listener, tls_files))

    assert await round_trip(tls_kafka.tls_bootstrap(listener), security) == b"over tls"


@pytest.mark.parametrize("listener, env", [
    (SSL_LISTENER, {"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}),  # TLS forgotten
    (SSL_LISTENER, {"KAFKA_SSL_CAFILE": ""}),  # the system's CAs never signed the node's certificate
    (MTLS_LISTENER, {"KAFKA_SSL_CERTFILE": "", "KAFKA_SSL_KEYFILE": ""}),  # no client certificate
    (MTLS_LISTENER, {"stranger": "yes"}),  # a client certificate from a CA the node does not trust
    (SASL_SSL_LISTENER, {"KAFKA_SASL_PASSWORD": "wrong"}),
    (WRONG_HOST_LISTENER, {}),  # the node's certificate names another host
], ids=["plaintext-to-ssl", "untrusted-ca", "mtls-without-certificate", "mtls-foreign-certificate",
        "sasl-ssl-wrong-password", "certificate-for-another-host"])
async def test_tls_listeners_refuse_clients_that_fail_their_checks(tls_kafka: ApacheKafka, tls_files: TlsFiles,
                                                                    listener: str, env: dict[str, str]):
    if env.pop("stranger", None):
        env = {"KAFKA_SSL_CERTFILE": str(tls_files.stranger_cert), "KAFKA_SSL_KEYFILE": str(tls_files.stranger_key)}
    security = security_from(tls_env(listener, tls_files, **env))

    await refused(tls_kafka.tls_bootstrap(listener), security)


async def test_a_certificate_for_another_host_is_refused_only_by_the_hostname_check(
    tls_kafka: ApacheKafka, tls_files: TlsFiles,
):
    """The same CA signed it: without the hostname check the connection works, so the check is what refuses it."""
    bootstrap = tls_kafka.tls_bootstrap(WRONG_HOST_LISTENER)
    unchecked = security_from(tls_env(WRONG_HOST_LISTENER, tls_files, KAFKA_SSL_CHECK_HOSTNAME="false"))

    assert await round_trip(bootstrap, unchecked) == b"over tls"
    await refused(bootstrap, security_from(tls_env(WRONG_HOST_LISTENER, tls_files)))


# --- worker and collector -----------------------------------------------------------------------


def journey(lead: str) -> list[dict[str, Any]]:
    return [
        identify(lead, f"{lead}-1", f"{lead}@acme.io", minutes=0),   # ICP traits (fit 100): IQL
        track(lead, f"{lead}-2", "Webinar Attended", minutes=1),
        track(lead, f"{lead}-3", "Case Study Downloaded", minutes=2),  # interest 30: MQL
        track(lead, f"{lead}-4", "Demo Requested", minutes=3),         # intent 30: warm
    ]


async def post_batch(url: str, messages: list[dict[str, Any]]) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(url + "/v1/batch", data=orjson.dumps({"batch": messages})) as response:
            await response.read()
            return response.status


async def scored_lead(worker: Any, lead: str, events: int, timeout: float = 60.0) -> dict[str, Any]:
    """The lead's document once the worker has scored `events` events."""
    deadline = time.monotonic() + timeout
    while True:
        _, accounting = await worker.get_json("/accounting")
        if accounting["scored"] >= events:
            status, document = await worker.get_json(f"/leads/{lead}")
            if status == 200:
                return {"accounting": accounting, **document}
        if time.monotonic() > deadline:
            raise AssertionError(f"{lead} not scored after {timeout:.0f} s: {accounting}\n{worker.log_tail()}")
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("listener", [SSL_LISTENER, MTLS_LISTENER, SASL_SSL_LISTENER])
async def test_a_worker_and_collector_configured_for_tls_score_a_posted_journey(
    tls_kafka: ApacheKafka, tls_files: TlsFiles, tmp_path: Path, listener: str,
):
    bootstrap, env = tls_kafka.tls_bootstrap(listener), tls_env(listener, tls_files)
    worker, prefix = worker_on(bootstrap, tmp_path, env)
    collector = CollectorProcess(bootstrap, tmp_path / "collector.log", env={
        "LEADSTREAM_APP_ID": f"leadstream-{prefix[:-1]}", "LEADSTREAM_TOPIC_PREFIX": prefix,
        "LEADSTREAM_PARTITIONS": str(TEST_PARTITIONS), **env,
    })
    worker.start()
    try:
        await worker.wait_ready()
        collector.start()
        await collector.wait_ready(timeout=60)
        lead = f"tls-{listener.lower()}"

        assert await post_batch(collector.url, journey(lead)) == 200
        document = await scored_lead(worker, lead, events=4)
    finally:
        collector.stop()
        worker.stop()

    assert (document["stage"], document["temperature"]) == ("mql", "warm")
    accounting = document["accounting"]
    assert (accounting["received"], accounting["scored"], accounting["dead_lettered"]) == (4, 4, 0)


async def test_a_worker_refuses_a_broker_certificate_for_another_host_and_says_why(
    tls_kafka: ApacheKafka, tls_files: TlsFiles, tmp_path: Path,
):
    worker, _ = worker_on(tls_kafka.tls_bootstrap(WRONG_HOST_LISTENER), tmp_path,
                          tls_env(WRONG_HOST_LISTENER, tls_files))
    worker.start()
    try:
        with pytest.raises(WorkerFailed):
            await worker.wait_ready(timeout=30, fails_on=["CERTIFICATE_VERIFY_FAILED"])
    finally:
        worker.kill()

    log = worker.log_path.read_text(errors="replace")
    # Python names the mismatch by what was dialled: an IP address here.
    assert "CERTIFICATE_VERIFY_FAILED" in log and "certificate is not valid for '127.0.0.1'" in log, worker.log_tail()
