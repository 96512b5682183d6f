"""A real single-node Apache Kafka 4.x (KRaft) without Docker, for tests, faults and benchmarks.

The jars come from Maven Central through the machine's Maven into a cache outside the repo;
`java -cp '<lib>/*'` then formats the storage and runs `kafka.Kafka`. Recipe: shared/KAFKA.md.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from streams.devtools.brokers.errors import (
    BrokerError,
    KafkaFetchFailed,
    KafkaStorageFormatFailed,
    KafkaToolchainMissing,
    PortInUse,
)
from streams.devtools.brokers.ports import (
    LOOPBACK,
    free_port,
    kill_process,
    port_is_free,
    spawn_in_own_group,
    stop_process,
    wait_until_answering_metadata,
    wait_until_listening,
)

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
MINIMUM_JAVA_VERSION = 17  # Kafka 4.x brokers need Java 17
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0
MAVEN_TIMEOUT_SECONDS = 900.0

_NODE_ID = 1
_COMPLETE_MARKER = ".complete"

# With sasl_users the client listener takes these; the node itself talks to itself over PLAIN.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256")
SASL_LISTENER = "SASL_PLAINTEXT"
BROKER_SASL_USER = "admin"  # the node's own (inter-broker) user, also the readiness probe's
# What goes into a JAAS option (user_<name>="<password>") and a --add-scram entry unquoted.
_SASL_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_SASL_PASSWORD = re.compile(r"[^\s\\\"',=\[\]]+")

# kafka_2.13 brings broker, raft, clients, scala and log4j; its published POM omits the SLF4J
# binding, and Kafka 4.x still logs through slf4j-api 1.7, hence log4j-slf4j-impl (the
# slf4j2 variant drags in slf4j 2 and silences the broker's logging).
_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>leadstream</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>{LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
"""

# WARN keeps the file readable; the lifecycle loggers at INFO show how far the node got, which
# is what a failed start's error message needs. log4j's own shutdown hook would race Kafka's and
# drop the shutdown lines, so it is off (the file appender flushes every line anyway).
_LOG4J2_PROPERTIES = """status = warn
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


# --- the jars ---------------------------------------------------------------------------------


def kafka_cache_dir() -> Path:
    """Where the Kafka jars live: `$LEADSTREAM_KAFKA_CACHE`, or one folder per version under ~/.cache."""
    override = os.environ.get("LEADSTREAM_KAFKA_CACHE")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "leadstream" / f"kafka-{KAFKA_VERSION}"


def kafka_toolchain_available(cache_dir: Path | None = None) -> tuple[bool, str]:
    """Whether Apache Kafka can run here; when not, the reason, worded for a skip message."""
    try:
        _require_java()
    except KafkaToolchainMissing as missing:
        return False, str(missing)
    if not _jars_complete(cache_dir or kafka_cache_dir()) and shutil.which("mvn") is None:
        return False, "mvn is not on PATH, and Maven is needed once to fetch the Apache Kafka jars"
    return True, ""


def ensure_kafka_jars(cache_dir: Path | None = None) -> Path:
    """The folder of Kafka jars, fetched with Maven on first use and reused afterwards."""
    cache_dir = cache_dir or kafka_cache_dir()
    lib_dir = cache_dir / "lib"
    _require_java()
    if _jars_complete(cache_dir):
        return lib_dir
    if shutil.which("mvn") is None:
        raise KafkaToolchainMissing("mvn is not on PATH; Maven is needed once to fetch the Apache Kafka jars")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache_dir / ".fetch.lock"):
        if not _jars_complete(cache_dir):  # another process may have fetched while we waited
            _fetch_jars(cache_dir)
    return lib_dir


def _fetch_jars(cache_dir: Path) -> None:
    lib_dir = cache_dir / "lib"
    # No marker means an earlier fetch was interrupted or the pom changed: start clean.
    shutil.rmtree(lib_dir, ignore_errors=True)
    pom_path = cache_dir / "pom.xml"
    pom_path.write_text(_POM)
    command = [
        "mvn", "-B", "-q", "-f", str(pom_path),
        "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={lib_dir}",
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as timeout:
        raise KafkaFetchFailed(f"mvn did not finish within {MAVEN_TIMEOUT_SECONDS:.0f}s") from timeout
    output = (result.stdout or "") + (result.stderr or "")
    (cache_dir / "mvn.log").write_text(output)
    if result.returncode != 0 or not any(lib_dir.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        tail = "\n".join(output.strip().splitlines()[-20:])
        raise KafkaFetchFailed(
            f"mvn could not fetch Apache Kafka {KAFKA_VERSION} (exit {result.returncode}):\n{tail}"
        )
    (lib_dir / _COMPLETE_MARKER).write_text(_pom_digest())


def _jars_complete(cache_dir: Path) -> bool:
    marker = cache_dir / "lib" / _COMPLETE_MARKER
    return marker.exists() and marker.read_text().strip() == _pom_digest()


def _pom_digest() -> str:
    return hashlib.sha256(_POM.encode()).hexdigest()


@contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Serialises fetches between processes (parallel test runs share the cache)."""
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _require_java() -> None:
    if shutil.which("java") is None:
        raise KafkaToolchainMissing(
            f"java is not on PATH; Apache Kafka {KAFKA_VERSION} needs Java {MINIMUM_JAVA_VERSION}+"
        )
    version = _java_major_version()
    if version is not None and version < MINIMUM_JAVA_VERSION:
        raise KafkaToolchainMissing(
            f"java {version} is on PATH; Apache Kafka {KAFKA_VERSION} needs Java {MINIMUM_JAVA_VERSION}+"
        )


def _java_major_version() -> int | None:
    """17 for 'openjdk version "17.0.15"', 8 for 'java version "1.8.0_392"'; None if unreadable."""
    try:
        result = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


# --- the node ---------------------------------------------------------------------------------


class ApacheKafka:
    """One combined broker+controller KRaft node on 127.0.0.1.

    With `data_dir` the topics and offsets survive stop/start (and process restarts); without it
    a fresh temporary directory is used and removed on stop(). A failed start() leaves the
    directory in place, because the error message points at the logs inside it.

    With `sasl_users` ({name: password}) the client listener is SASL_PLAINTEXT, accepting PLAIN
    and SCRAM-SHA-256 for those users (the controller listener stays PLAINTEXT); the node's own
    user `admin` (password made up unless `sasl_users` names it) logs in over PLAIN for
    inter-broker traffic and the readiness probe: `client_kwargs()`. SCRAM users are written
    into the metadata when the storage is formatted, so a reused `data_dir` keeps the SCRAM
    users it was formatted with, while PLAIN follows `sasl_users` on every start.
    """

    def __init__(
        self,
        port: int | None = None,
        controller_port: int | None = None,
        data_dir: Path | None = None,
        partitions: int = 8,
        heap: str = "512m",
        sasl_users: Mapping[str, str] | None = None,
    ) -> None:
        self._sasl_users = _checked_sasl_users(sasl_users) if sasl_users is not None else None
        # The node's own password: the caller's if it named `admin`, else one made up per instance
        # (PLAIN passwords live only in server.properties, rewritten on every start).
        self._broker_password: str | None = None
        if self._sasl_users is not None:
            self._broker_password = self._sasl_users.get(BROKER_SASL_USER) or secrets.token_urlsafe(18)
        self._requested_port = port
        self._requested_controller_port = controller_port
        self._data_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._owns_data_dir = data_dir is None
        self._partitions = partitions
        self._heap = heap
        self._port: int | None = None
        self._controller_port: int | None = None
        self._process: subprocess.Popen | None = None

    # -- properties --

    @property
    def bootstrap(self) -> str:
        if self._port is None:
            raise BrokerError("Apache Kafka has not been started")
        return f"{LOOPBACK}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir

    @property
    def sasl_users(self) -> dict[str, str] | None:
        """The SASL users the client listener accepts (PLAIN and SCRAM-SHA-256); None: PLAINTEXT."""
        return dict(self._sasl_users) if self._sasl_users is not None else None

    @property
    def security_protocol(self) -> str:
        """What clients of `bootstrap` must speak: PLAINTEXT, or SASL_PLAINTEXT with sasl_users."""
        return SASL_LISTENER if self._sasl_users is not None else "PLAINTEXT"

    def client_kwargs(self) -> dict[str, Any]:
        """aiokafka keyword arguments to connect as the node's own admin user (PLAIN); {} without SASL."""
        if self._sasl_users is None:
            return {}
        return {
            "security_protocol": SASL_LISTENER,
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": BROKER_SASL_USER,
            "sasl_plain_password": self._broker_password,
        }

    @property
    def log_path(self) -> Path | None:
        """Kafka's own log (log4j); JVM output that never reaches log4j goes to `kafka.out` beside it."""
        return self._logs_dir / "server.log" if self._data_dir else None

    # -- lifecycle --

    def start(self) -> str:
        """Start the node (fetching jars and formatting storage when needed) and return its bootstrap."""
        if self._process is not None:
            return self.bootstrap
        port, controller_port = self._claim_ports()
        lib_dir = ensure_kafka_jars()
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="leadstream-kafka-"))
        self._port, self._controller_port = port, controller_port
        self._write_config()
        if not (self._kafka_log_dir / "meta.properties").exists():
            self._format_storage(lib_dir)
        self._process = spawn_in_own_group(
            self._java_command(lib_dir, "kafka.Kafka", str(self._server_properties)),
            self._logs_dir / "kafka.out",
            cwd=self._data_dir,
        )
        self._wait_until_ready()
        return self.bootstrap

    def stop(self) -> None:
        """Orderly shutdown (SIGTERM, SIGKILL after 20 s); removes the data dir only if it was temporary."""
        self._stop_process()
        if self._owns_data_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def kill(self) -> None:
        """SIGKILL, for fault tests: a crash, after which start() recovers from the same data dir."""
        if self._process is not None:
            kill_process(self._process)
            self._process = None

    def restart(self) -> str:
        """Stop and start again on the same ports and data dir, without formatting."""
        self._stop_process()
        return self.start()

    def __enter__(self) -> ApacheKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals --

    @property
    def _config_dir(self) -> Path:
        assert self._data_dir is not None
        return self._data_dir / "config"

    @property
    def _logs_dir(self) -> Path:
        assert self._data_dir is not None
        return self._data_dir / "logs"

    @property
    def _kafka_log_dir(self) -> Path:
        """Kafka's `log.dirs`: the partitions and KRaft metadata, not the text logs."""
        assert self._data_dir is not None
        return self._data_dir / "data"

    @property
    def _server_properties(self) -> Path:
        return self._config_dir / "server.properties"

    @property
    def _log4j_config(self) -> Path:
        return self._config_dir / "log4j2.properties"

    def _claim_ports(self) -> tuple[int, int]:
        """Ports from an earlier start() win, so restart() and the clients' bootstrap stay valid."""
        port = self._port or self._requested_port
        controller_port = self._controller_port or self._requested_controller_port
        for wanted in (port, controller_port):
            if wanted is not None and not port_is_free(wanted):
                raise PortInUse(f"port {wanted} on {LOOPBACK} is already in use")
        port = port or free_port()
        controller_port = controller_port or _another_free_port(port)
        return port, controller_port

    def _write_config(self) -> None:
        self._config_dir.mkdir(parents=True, exist_ok=True)
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        self._server_properties.write_text(
            server_properties(
                self._port, self._controller_port, self._kafka_log_dir, self._partitions,
                sasl_users=self._sasl_users, broker_password=self._broker_password,
            )
        )
        self._log4j_config.write_text(_LOG4J2_PROPERTIES)

    def _format_storage(self, lib_dir: Path) -> None:
        command = self._java_command(
            lib_dir,
            "kafka.tools.StorageTool",
            "format", "--standalone",
            "--cluster-id", new_cluster_id(),
            "--config", str(self._server_properties),
            # SCRAM credentials live in the cluster metadata, so KRaft takes them at format time.
            *(
                argument
                for name, password in (self._sasl_users or {}).items()
                for argument in ("--add-scram", f"SCRAM-SHA-256=[name={name},password={password}]")
            ),
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise KafkaStorageFormatFailed(f"formatting {self._kafka_log_dir} failed:\n{output}")

    def _java_command(self, lib_dir: Path, main_class: str, *arguments: str) -> list[str]:
        return [
            "java",
            f"-Xms{self._heap}",
            f"-Xmx{self._heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self._logs_dir}",
            f"-Dlog4j2.configurationFile={self._log4j_config}",
            "-cp", f"{lib_dir}/*",  # a JVM classpath wildcard, expanded by java, not by a shell
            main_class,
            *arguments,
        ]

    def _wait_until_ready(self) -> None:
        """The broker listener opens only once the node is unfenced; a metadata answer confirms it serves."""
        assert self._process is not None and self._port is not None
        logs = [self._logs_dir / "kafka.out", self._logs_dir / "server.log"]
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        try:
            wait_until_listening(LOOPBACK, self._port, START_TIMEOUT_SECONDS, self._process, logs)
            wait_until_answering_metadata(
                self.bootstrap, max(deadline - time.monotonic(), 5.0), self._process, logs,
                client_kwargs=self.client_kwargs(),
            )
        except BrokerError:
            self.kill()
            raise

    def _stop_process(self) -> None:
        if self._process is not None:
            stop_process(self._process, STOP_TIMEOUT_SECONDS)
            self._process = None


def server_properties(
    port: int,
    controller_port: int,
    log_dir: Path,
    partitions: int,
    sasl_users: Mapping[str, str] | None = None,
    broker_password: str | None = None,
) -> str:
    """One combined broker+controller node on loopback, sized for a single machine.

    With `sasl_users` the client (and inter-broker) listener is SASL_PLAINTEXT instead of
    PLAINTEXT, accepting PLAIN and SCRAM-SHA-256; the controller listener stays PLAINTEXT.
    """
    broker = f"{LOOPBACK}:{port}"
    controller = f"{LOOPBACK}:{controller_port}"
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(_NODE_ID),
        "controller.quorum.bootstrap.servers": controller,
        # 127.0.0.1, never localhost: clients may resolve localhost to ::1, where nothing listens.
        "listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
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
        settings.update(_sasl_properties(broker, controller, sasl_users, broker_password))
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _sasl_properties(
    broker: str, controller: str, users: Mapping[str, str], broker_password: str | None
) -> dict[str, str]:
    """The client listener as SASL_PLAINTEXT, which the combined node also uses to reach itself."""
    if not broker_password:
        raise BrokerError("a SASL listener needs the node's own password (broker_password)")
    users = _checked_sasl_users(users)
    accounts = {BROKER_SASL_USER: broker_password, **users}
    plain_users = " ".join(f'user_{name}="{password}"' for name, password in accounts.items())
    prefix = f"listener.name.{SASL_LISTENER.lower()}"
    return {
        "listeners": f"{SASL_LISTENER}://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"{SASL_LISTENER}://{broker},CONTROLLER://{controller}",
        "inter.broker.listener.name": SASL_LISTENER,
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{SASL_LISTENER}:{SASL_LISTENER}",
        "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        # PLAIN: the node's own login (username/password) and every user it accepts (user_<name>).
        f"{prefix}.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{BROKER_SASL_USER}" password="{broker_password}" {plain_users};'
        ),
        # SCRAM: the credentials are in the cluster metadata (format --add-scram); the server
        # side still needs a login module entry for the mechanism.
        f"{prefix}.scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    }


def _checked_sasl_users(users: Mapping[str, str]) -> dict[str, str]:
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


def _another_free_port(taken: int) -> int:
    while (port := free_port()) == taken:
        pass
    return port
