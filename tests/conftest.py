"""Fixtures every test folder may use; they live beside the tests that own them."""

from tests.integration.kafka_fixture import apache_kafka_factory, embedded_bootstrap, kafka_bootstrap

__all__ = ["apache_kafka_factory", "embedded_bootstrap", "kafka_bootstrap"]  # pytest finds fixtures by name
