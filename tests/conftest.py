"""Fixtures every test folder may use; they live beside the tests that own them.

Under CI (any truthy ``CI``, tests/ci.py) this also loads Hypothesis's CI profile and fails the
session on any skip outside the allow-list in tests/ci.py, listing the allow-list in the summary.
A parallel run (``-n``) shares out files as tests/parallel_plan.py says, on one Apache Kafka
(tests/shared_kafka.py).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.ci import register_skip_check, running_under_ci
from tests.integration.kafka_fixture import (
    KAFKA_TEST_PARTITIONS,
    apache_kafka_factory,
    embedded_bootstrap,
    kafka_bootstrap,
)
from tests.fault_report import register_fault_report
from tests.parallel_plan import order_for_parallel_run, register_parallel_plan
from tests.shared_kafka import register_shared_kafka

__all__ = ["apache_kafka_factory", "embedded_bootstrap", "kafka_bootstrap"]  # pytest finds fixtures by name

# Two busy shared cores make a single example take longer than Hypothesis's 200 ms default
# deadline now and then; CI checks properties, not speed (that is `leadstream bench`'s job).
# derandomize: the same examples every run, so a CI failure reproduces and a pass is not luck.
settings.register_profile(
    "ci", deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
if running_under_ci():
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    register_skip_check(config)
    register_parallel_plan(config)
    register_shared_kafka(config, KAFKA_TEST_PARTITIONS)
    register_fault_report(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order_for_parallel_run(config, items)
