"""Local Kafka-protocol brokers: embedded Tansu for the demo, a real Apache Kafka for tests."""

from streams.devtools.brokers.embedded import EmbeddedBroker, tansu_binary
from streams.devtools.brokers.errors import (
    BrokerBinaryMissing,
    BrokerError,
    BrokerStartTimeout,
    KafkaFetchFailed,
    KafkaStorageFormatFailed,
    KafkaToolchainMissing,
    PortInUse,
)
from streams.devtools.brokers.kafka import ApacheKafka
from streams.devtools.brokers.kafka_tls import (
    MTLS_LISTENER,
    SASL_SSL_LISTENER,
    SSL_LISTENER,
    WRONG_HOST_LISTENER,
    BrokerTls,
)
from streams.devtools.brokers.kafka_jars import (
    KAFKA_VERSION,
    LOG4J_VERSION,
    ensure_kafka_jars,
    kafka_cache_dir,
    kafka_toolchain_available,
)
from streams.devtools.brokers.ports import free_port, port_is_free, wait_until_listening

__all__ = [
    "KAFKA_VERSION",
    "LOG4J_VERSION",
    "MTLS_LISTENER",
    "SASL_SSL_LISTENER",
    "SSL_LISTENER",
    "WRONG_HOST_LISTENER",
    "ApacheKafka",
    "BrokerBinaryMissing",
    "BrokerError",
    "BrokerTls",
    "BrokerStartTimeout",
    "EmbeddedBroker",
    "KafkaFetchFailed",
    "KafkaStorageFormatFailed",
    "KafkaToolchainMissing",
    "PortInUse",
    "ensure_kafka_jars",
    "free_port",
    "kafka_cache_dir",
    "kafka_toolchain_available",
    "port_is_free",
    "tansu_binary",
    "wait_until_listening",
]
