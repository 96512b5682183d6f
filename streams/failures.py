"""What a user can do about a failure: each known cause said in a line or two naming its fix, with its exit status.

Every ``leadstream`` command ends through ``explain``: a refused setting, an unreachable or refusing
Kafka, a missing topic, a taken port, a missing Java or Maven each get their own status (documented
in docs/cli.md and ``leadstream --help``); the traceback only with ``--debug`` or LEADSTREAM_LOG_LEVEL=debug.
"""

from __future__ import annotations

import errno
import os
import re
import ssl
from dataclasses import dataclass

from aiokafka import errors as kafka_errors

from scoring import ScoringError
from streams.devtools.brokers.errors import BrokerError, KafkaToolchainMissing, PortInUse
from streams.errors import KafkaAccessRefused, KafkaUnreachable, PortTaken, StreamsError, TopicMissing

EXIT_FAILED = 1  # the command ran and reports a problem it found (e.g. `leadstream dev`'s accounting)
EXIT_REFUSED = 2  # a setting, argument or model file is wrong; the message names it
EXIT_KAFKA_UNREACHABLE = 3
EXIT_KAFKA_REFUSED = 4
EXIT_TOPIC_MISSING = 5
EXIT_PORT_TAKEN = 6
EXIT_TOOL_MISSING = 7
EXIT_UNCONFIRMED = 8  # a model published, but a running worker did not report it in time
EXIT_INTERNAL = 70  # a bug: the message says so, --debug shows where

EXIT_STATUSES: dict[int, str] = {
    0: "done",
    EXIT_FAILED: "the command ran and found a problem it reports (e.g. dev's accounting does not add up)",
    EXIT_REFUSED: "a setting, option or model file is wrong (the message names it)",
    EXIT_KAFKA_UNREACHABLE: "Kafka unreachable at KAFKA_BOOTSTRAP_SERVERS",
    EXIT_KAFKA_REFUSED: "Kafka refused the client: credentials, TLS or ACLs (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*)",
    EXIT_TOPIC_MISSING: "a topic the command reads does not exist (start a worker, or check LEADSTREAM_TOPIC_PREFIX)",
    EXIT_PORT_TAKEN: "the port to serve on is taken (--port or its variable)",
    EXIT_TOOL_MISSING: "Java or Maven missing (needed by `leadstream kafka` and the tests' Kafka)",
    EXIT_UNCONFIRMED: "`model apply` published the model but a running worker did not report it in time",
    EXIT_INTERNAL: "an unexpected error: a bug; --debug shows the traceback",
}

_REFUSALS = (
    kafka_errors.AuthenticationFailedError, kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.SaslAuthenticationFailed, kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError, kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.GroupAuthorizationFailedError, kafka_errors.ClusterAuthorizationFailedError, ssl.SSLError,
)
_BOUND_ADDRESS = re.compile(r"\('([^']*)', (\d+)\)")


@dataclass(frozen=True)
class Failure:
    message: str
    exit_status: int


def bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or "127.0.0.1:9092"


def kafka_unreachable() -> str:
    return (f"Kafka is unreachable at {bootstrap_servers()}: start it (`leadstream kafka` runs one here), or set"
            f" KAFKA_BOOTSTRAP_SERVERS to brokers this machine can reach")


def kafka_refused(exc: BaseException) -> str:
    what = _first_line(exc) or type(exc).__name__
    return (f"Kafka at {bootstrap_servers()} refused this client ({what}): check KAFKA_SECURITY_PROTOCOL,"
            f" KAFKA_SASL_MECHANISM/USERNAME/PASSWORD and KAFKA_SSL_CAFILE, and the principal's ACLs")


def missing_topic(topic: str) -> TopicMissing:
    prefix = os.environ.get("LEADSTREAM_TOPIC_PREFIX", "").strip()
    return TopicMissing(f"topic {topic} does not exist at {bootstrap_servers()}: start a worker there once (it creates"
                        f" the topics), or check KAFKA_BOOTSTRAP_SERVERS and LEADSTREAM_TOPIC_PREFIX (now {prefix!r})")


def port_taken(exc: OSError) -> str:
    found = _BOUND_ADDRESS.search(str(exc))
    where = f"port {found.group(2)} on {found.group(1)}" if found else "the port"
    return (f"{where} is already in use: stop what listens there, or choose another with --port"
            f" (or the command's port variable, e.g. LEADSTREAM_WEB_PORT, LEADSTREAM_COLLECTOR_PORT)")


def explain(exc: BaseException) -> Failure:
    """The line a user reads for ``exc``, and the exit status that tells a script which cause it was."""
    # Ours first: they already say what is wrong in words a user can act on.
    for ours, status in ((KafkaUnreachable, EXIT_KAFKA_UNREACHABLE), (KafkaAccessRefused, EXIT_KAFKA_REFUSED),
                         (TopicMissing, EXIT_TOPIC_MISSING), (PortTaken, EXIT_PORT_TAKEN)):
        if isinstance(exc, ours):
            return Failure(str(exc), status)
    if isinstance(exc, (StreamsError, ScoringError)):
        return Failure(str(exc), EXIT_REFUSED)
    if isinstance(exc, KafkaToolchainMissing):
        return Failure(f"{_first_line(exc)}. Install a JDK 17+ and Maven (Debian: apt-get install"
                       f" openjdk-17-jre-headless maven), or point KAFKA_BOOTSTRAP_SERVERS at a running Kafka",
                       EXIT_TOOL_MISSING)
    if isinstance(exc, PortInUse):
        return Failure(f"{_first_line(exc)}: stop what listens there, or choose another with --port", EXIT_PORT_TAKEN)
    if isinstance(exc, BrokerError):
        return Failure(_first_line(exc), EXIT_FAILED)
    if isinstance(exc, kafka_errors.KafkaConnectionError):
        return Failure(kafka_unreachable(), EXIT_KAFKA_UNREACHABLE)
    if isinstance(exc, _REFUSALS):
        return Failure(kafka_refused(exc), EXIT_KAFKA_REFUSED)
    if isinstance(exc, kafka_errors.UnknownTopicOrPartitionError):
        return Failure(f"a topic this command reads does not exist at {bootstrap_servers()}: start a worker once"
                       f" (it creates the topics), or check LEADSTREAM_TOPIC_PREFIX", EXIT_TOPIC_MISSING)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return Failure(port_taken(exc), EXIT_PORT_TAKEN)
    return Failure(f"unexpected error {type(exc).__name__}: {_first_line(exc)} (a bug: run again with --debug"
                   f" for the traceback and report it)", EXIT_INTERNAL)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
