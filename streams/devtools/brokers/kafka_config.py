"""The configuration of a single-node Apache Kafka: server.properties (PLAINTEXT or SASL, TLS beside), log4j, a cluster id."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

from streams.devtools.brokers.errors import BrokerError
from streams.devtools.brokers.kafka_tls import SASL_SSL_LISTENER, BrokerTls, listener_list, tls_properties, tls_protocols
from streams.devtools.brokers.ports import LOOPBACK

_NODE_ID = 1

# With sasl_users the client listener takes these; the node itself talks to itself over PLAIN.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256")
SASL_LISTENER = "SASL_PLAINTEXT"
BROKER_SASL_USER = "admin"  # the node's own (inter-broker) user, also the readiness probe's
# What goes into a JAAS option (user_<name>="<password>") and a --add-scram entry unquoted.
_SASL_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_SASL_PASSWORD = re.compile(r"[^\s\\\"',=\[\]]+")

# WARN keeps the file readable; the lifecycle loggers at INFO show how far the node got, which
# is what a failed start's error message needs. log4j's own shutdown hook would race Kafka's and
# drop the shutdown lines, so it is off (the file appender flushes every line anyway).
LOG4J2_PROPERTIES = """status = warn
shutdownHook = disable
appender.server.type = File
appender.server.name = server
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.server.ref = server
logger.raftServer.name = kafka.server.KafkaRaftServer
logger.raftServer.level = INFO
logger.brokerServer.name = kafka.server.BrokerServer
logger.brokerServer.level = INFO
logger.controllerServer.name = kafka.server.ControllerServer
logger.controllerServer.level = INFO
"""


def server_properties(
    port: int,
    controller_port: int,
    log_dir: Path,
    partitions: int,
    sasl_users: Mapping[str, str] | None = None,
    broker_password: str | None = None,
    tls: BrokerTls | None = None,
    tls_ports: Mapping[str, int] | None = None,
) -> str:
    """One combined broker+controller node on loopback, sized for a single machine.

    With `sasl_users` the client (and inter-broker) listener is SASL_PLAINTEXT instead of
    PLAINTEXT, accepting PLAIN and SCRAM-SHA-256; the controller listener stays PLAINTEXT.
    With `tls` the node also listens on `tls_ports` ({listener name: port}, kafka_tls.py).
    """
    broker = f"{LOOPBACK}:{port}"
    controller = f"{LOOPBACK}:{controller_port}"
    client_listener = SASL_LISTENER if sasl_users is not None else "PLAINTEXT"
    addresses = {client_listener: broker, "CONTROLLER": controller,
                 **{name: f"{LOOPBACK}:{tls_port}" for name, tls_port in (tls_ports or {}).items()}}
    protocols = {"CONTROLLER": "PLAINTEXT", client_listener: client_listener, **tls_protocols(tuple(tls_ports or ()))}
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(_NODE_ID),
        "controller.quorum.bootstrap.servers": controller,
        # 127.0.0.1, never localhost: clients may resolve localhost to ::1, where nothing listens.
        "listeners": listener_list(addresses),
        "advertised.listeners": listener_list(addresses),
        "inter.broker.listener.name": client_listener,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": ",".join(f"{name}:{protocol}" for name, protocol in protocols.items()),
        "log.dirs": str(log_dir),
        # Auto-created topics get this count; Faust creates changelogs with its own
        # topic_partitions (8 by default) and refuses a mismatch.
        "num.partitions": str(partitions),
        # Internal topics default to replication 3 / min ISR 2, which one node can never meet.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # The default holds every first group join for 3 s, which tests and the demo feel.
        "group.initial.rebalance.delay.ms": "0",
        # After a crash (kill()) the restarted broker may only register once its previous
        # session has expired: 9 s by default. Broker and controller share this JVM, so a
        # shorter session cannot be lost to the network.
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "3000",
    }
    if sasl_users is not None:
        listeners = (SASL_LISTENER, *((SASL_SSL_LISTENER,) if SASL_SSL_LISTENER in (tls_ports or {}) else ()))
        settings.update(_sasl_properties(listeners, sasl_users, broker_password))
    if tls is not None:
        settings.update(tls_properties(tls))
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _sasl_properties(listeners: tuple[str, ...], users: Mapping[str, str], broker_password: str | None
                     ) -> dict[str, str]:
    """SASL on `listeners` (SASL_PLAINTEXT, which the combined node also uses to reach itself, and SASL_SSL)."""
    if not broker_password:
        raise BrokerError("a SASL listener needs the node's own password (broker_password)")
    users = checked_sasl_users(users)
    accounts = {BROKER_SASL_USER: broker_password, **users}
    plain_users = " ".join(f'user_{name}="{password}"' for name, password in accounts.items())
    settings = {
        "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
    }
    for listener in listeners:
        prefix = f"listener.name.{listener.lower()}"
        # PLAIN: the node's own login (username/password) and every user it accepts (user_<name>).
        settings[f"{prefix}.plain.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{BROKER_SASL_USER}" password="{broker_password}" {plain_users};'
        )
        # SCRAM: the credentials are in the cluster metadata (format --add-scram); the server
        # side still needs a login module entry for the mechanism.
        settings[f"{prefix}.scram-sha-256.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;")
    return settings


def checked_sasl_users(users: Mapping[str, str]) -> dict[str, str]:
    """The users as a dict, refusing names and passwords that JAAS or --add-scram would misread."""
    checked: dict[str, str] = {}
    for name, password in users.items():
        if not _SASL_NAME.fullmatch(name):
            raise BrokerError(f"SASL user name {name!r}: only letters, digits, '_', '.' and '-'")
        if not _SASL_PASSWORD.fullmatch(password):
            raise BrokerError(
                f"SASL password of {name!r}: must be non-empty, without whitespace, quotes, "
                "backslashes, ',', '=', '[' or ']'"
            )
        checked[name] = password
    return checked


def new_cluster_id() -> str:
    """A Kafka cluster id: URL-safe base64 of 16 random bytes, unpadded, never starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id
