"""A real single-node Apache Kafka 4.x (KRaft) without Docker, for tests, faults and benchmarks.

The jars come from Maven Central through the machine's Maven into a cache outside the repo
(kafka_jars.py); `java -cp '<lib>/*'` then formats the storage and runs `kafka.Kafka` with the
configuration kafka_config.py writes.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from streams.devtools.brokers.errors import BrokerError, KafkaStorageFormatFailed, PortInUse
from streams.devtools.brokers.kafka_config import (
    BROKER_SASL_USER,
    LOG4J2_PROPERTIES,
    SASL_LISTENER,
    checked_sasl_users,
    new_cluster_id,
    server_properties,
)
from streams.devtools.brokers.kafka_jars import ensure_kafka_jars
from streams.devtools.brokers.kafka_tls import BrokerTls
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

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0


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

    With `tls` (kafka_tls.py) the node also listens for SSL, mutual TLS, SASL_SSL (with
    `sasl_users`) and SSL with a wrong host's certificate, each on its own port: `tls_bootstrap()`.
    """

    def __init__(
        self,
        port: int | None = None,
        controller_port: int | None = None,
        data_dir: Path | None = None,
        partitions: int = 8,
        heap: str = "512m",
        sasl_users: Mapping[str, str] | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        self._sasl_users = checked_sasl_users(sasl_users) if sasl_users is not None else None
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
        self._tls = tls
        self._tls_ports: dict[str, int] = {}

    # -- properties --

    @property
    def bootstrap(self) -> str:
        if self._port is None:
            raise BrokerError("Apache Kafka has not been started")
        return f"{LOOPBACK}:{self._port}"

    def tls_bootstrap(self, listener: str) -> str:
        """The bootstrap of one TLS listener (kafka_tls.py names them)."""
        if listener not in self._tls_ports:
            raise BrokerError(f"Apache Kafka has no started {listener} listener")
        return f"{LOOPBACK}:{self._tls_ports[listener]}"

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
        tls_ports = self._claim_tls_ports({port, controller_port})
        lib_dir = ensure_kafka_jars()
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="leadstream-kafka-"))
        self._port, self._controller_port, self._tls_ports = port, controller_port, tls_ports
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
        controller_port = controller_port or _another_free_port({port})
        return port, controller_port

    def _claim_tls_ports(self, taken: set[int]) -> dict[str, int]:
        """One port per TLS listener; those of an earlier start() win, as in _claim_ports."""
        if self._tls is None:
            return {}
        ports: dict[str, int] = {}
        for listener in self._tls.listeners(with_sasl=self._sasl_users is not None):
            wanted = self._tls_ports.get(listener)
            if wanted is not None and not port_is_free(wanted):
                raise PortInUse(f"port {wanted} on {LOOPBACK} is already in use")
            ports[listener] = wanted or _another_free_port(taken | set(ports.values()))
        return ports

    def _write_config(self) -> None:
        self._config_dir.mkdir(parents=True, exist_ok=True)
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        self._server_properties.write_text(
            server_properties(
                self._port, self._controller_port, self._kafka_log_dir, self._partitions,
                sasl_users=self._sasl_users, broker_password=self._broker_password,
                tls=self._tls, tls_ports=self._tls_ports,
            )
        )
        self._log4j_config.write_text(LOG4J2_PROPERTIES)

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


def _another_free_port(taken: set[int]) -> int:
    while (port := free_port()) in taken:
        pass
    return port
