"""Session brokers for integration tests: the project's Apache Kafka, and embedded Tansu.

Apache Kafka is the one that counts (it is what production runs); without Java and Maven the
Kafka tests skip locally, but fail under CI (any truthy `CI`, tests/ci.py), which must run them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.devtools.brokers import (
    ApacheKafka,
    BrokerBinaryMissing,
    BrokerError,
    EmbeddedBroker,
    kafka_toolchain_available,
)
from tests.ci import skip_or_fail_under_ci
from tests.shared_kafka import SHARED_KAFKA_DIR, shared_kafka_answer

KAFKA_TEST_PARTITIONS = 8  # faust's default topic_partitions, so auto-created topics match changelogs


def _unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where a silently skipped broker suite would hide regressions."""
    skip_or_fail_under_ci(reason, "the broker tests")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap of a real Kafka: `$KAFKA_BOOTSTRAP_SERVERS` if set, else the parallel run's shared
    one (tests/shared_kafka.py), else one started for the session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    shared = os.environ.get(SHARED_KAFKA_DIR)
    if shared:
        answer = shared_kafka_answer(Path(shared))
        if "unavailable" in answer:
            _unavailable(answer["unavailable"])
        if "failed" in answer:
            raise BrokerError(f"the run's shared Apache Kafka failed to start: {answer['failed']}")
        yield answer["bootstrap"]
        return
    require_kafka_toolchain()
    with ApacheKafka(partitions=KAFKA_TEST_PARTITIONS) as kafka:
        yield kafka.bootstrap


@pytest.fixture
def apache_kafka_factory() -> Iterator[Callable[..., ApacheKafka]]:
    """Builds unstarted ApacheKafka nodes for tests that need their own (restarts, data dirs, faults).

    Every node built is stopped at teardown, so a failing assertion leaves no JVM behind.
    """
    require_kafka_toolchain()
    built: list[ApacheKafka] = []

    def build(**options: Any) -> ApacheKafka:
        options.setdefault("partitions", KAFKA_TEST_PARTITIONS)
        kafka = ApacheKafka(**options)
        built.append(kafka)
        return kafka

    yield build
    for kafka in built:
        kafka.stop()


def require_kafka_toolchain() -> None:
    available, reason = kafka_toolchain_available()
    if not available:
        _unavailable(f"Apache Kafka cannot run here: {reason}")


@pytest.fixture(scope="session")
def embedded_bootstrap() -> Iterator[str]:
    """Bootstrap of an embedded Tansu broker started for the session (memory storage)."""
    broker = EmbeddedBroker()
    try:
        broker.start()
    except BrokerBinaryMissing as missing:
        _unavailable(f"the embedded Tansu broker cannot run here: {missing}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
