"""Errors raised by the stream shell; every one says what failed."""


class StreamsError(Exception):
    """Base class for every error the stream shell raises."""


class ConfigError(StreamsError):
    """An environment variable is invalid; the message names it."""


class TopicMismatch(StreamsError):
    """An existing topic's partition count differs from the one the app needs."""


class TopicCreationFailed(StreamsError):
    """The broker refused to create a topic the app needs (a replication factor it cannot meet, no rights)."""


class RolloutRefused(StreamsError):
    """A model cannot be applied to the running workers; the message says why and what to do instead."""


class RolloutUnconfirmed(StreamsError):
    """A model was published but not every running worker reported running it in time; the message names them."""


class HistoryError(StreamsError):
    """History for replay, calibration or export cannot be read; the message says which record or file."""


class BenchUnavailable(StreamsError):
    """The benchmark was asked for where only the installed package is, not a checkout."""


class KafkaUnreachable(StreamsError):
    """No broker answered at KAFKA_BOOTSTRAP_SERVERS; the message names the address."""


class KafkaAccessRefused(StreamsError):
    """Kafka answered but refused this client: credentials, TLS or an ACL; the message names the setting."""


class TopicMissing(StreamsError):
    """A topic a command reads does not exist on this cluster (or under this LEADSTREAM_TOPIC_PREFIX)."""


class PortTaken(StreamsError):
    """Something else already listens on the port a command would serve on; the message names the option."""
