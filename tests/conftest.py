"""Fixtures every test folder may use; they live beside the tests that own them.

Under CI (any truthy ``CI``, tests/ci.py) the session fails on any skip outside the allow-list
in tests/ci.py, and the summary lists the allow-list and what it let through.
"""

from __future__ import annotations

import pytest

from tests.ci import register_skip_check
from tests.integration.kafka_fixture import apache_kafka_factory, embedded_bootstrap, kafka_bootstrap

__all__ = ["apache_kafka_factory", "embedded_bootstrap", "kafka_bootstrap"]  # pytest finds fixtures by name

def pytest_configure(config: pytest.Config) -> None:
    register_skip_check(config)
