"""Loopback ports and the broker processes that listen on them.

Picking and probing ports, spawning a broker as a child process, waiting until it answers
Kafka requests, and stopping it again. Shared by the embedded Tansu broker and Apache Kafka.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from streams.devtools.brokers.errors import BrokerStartTimeout

LOOPBACK = "127.0.0.1"
_POLL_INTERVAL_SECONDS = 0.1
_LOG_TAIL_LINES = 30


def free_port(host: str = LOOPBACK) -> int:
    """A port the OS considers free right now (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True if nothing listens on host:port.

    SO_REUSEADDR mirrors what the brokers do, so a port left in TIME_WAIT by a broker we just
    stopped counts as free (restarts on the same port must work), while a live listener does not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def log_tail(log_path: Path | None, lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of a broker log, for error messages; empty if there is none yet."""
    if log_path is None or not log_path.exists():
        return ""
    text = log_path.read_text(errors="replace").rstrip()
    return "\n".join(text.splitlines()[-lines:])


def _raise_if_exited(process: subprocess.Popen | None, log_paths: Sequence[Path]) -> None:
    if process is None or process.poll() is None:
        return
    raise BrokerStartTimeout(
        f"the broker exited with code {process.returncode} while starting{_logs_excerpt(log_paths)}"
    )


def _logs_excerpt(log_paths: Sequence[Path]) -> str:
    """Where the logs are (on the message's first line, which a CLI shows alone), then their tails."""
    if not log_paths:
        return ""
    where = f" (logs: {', '.join(str(path) for path in log_paths)})"
    tails = [f"\n--- {path.name} ---\n{tail}" for path in log_paths if (tail := log_tail(path))]
    return where + ("".join(tails) or "\n(the logs are empty)")


def wait_until_listening(
    host: str,
    port: int,
    timeout: float,
    process: subprocess.Popen | None = None,
    log_paths: Sequence[Path] = (),
) -> None:
    """Block until a TCP connect to host:port succeeds.

    Fails fast if `process` exits meanwhile: a broker that crashed on a bad config should not
    cost the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        _raise_if_exited(process, log_paths)
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BrokerStartTimeout(
                f"nothing listened on {host}:{port} after {timeout:.0f}s{_logs_excerpt(log_paths)}"
            )
        time.sleep(_POLL_INTERVAL_SECONDS)


def wait_until_answering_metadata(
    bootstrap: str,
    timeout: float,
    process: subprocess.Popen | None = None,
    log_paths: Sequence[Path] = (),
    client_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Block until the broker answers a real Kafka metadata request.

    An open port only proves the socket is bound; a metadata answer proves the broker can serve
    clients. The probe runs on its own event loop in a worker thread, so this works whether or
    not the caller is already inside a running loop (async tests, Faust). `client_kwargs` go to
    the probe's AIOKafkaAdminClient: the security settings of a broker that requires them
    (e.g. `security_protocol`, `sasl_mechanism`, `sasl_plain_username`, `sasl_plain_password`).
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-probe") as executor:
        while time.monotonic() < deadline:
            _raise_if_exited(process, log_paths)
            try:
                executor.submit(asyncio.run, _list_topics(bootstrap, client_kwargs or {})).result()
                return
            except Exception as error:  # any failure just means "not ready yet"
                last_error = error
            time.sleep(_POLL_INTERVAL_SECONDS)
    raise BrokerStartTimeout(
        f"{bootstrap} did not answer a metadata request after {timeout:.0f}s "
        f"(last error: {last_error!r}){_logs_excerpt(log_paths)}"
    )


async def _list_topics(bootstrap: str, client_kwargs: Mapping[str, Any]) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000, **client_kwargs)
    try:
        await admin.start()
        return await admin.list_topics()
    finally:
        await admin.close()


def spawn_in_own_group(
    argv: Sequence[str],
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen:
    """Start a broker with its output in `log_path`, in a new session and process group.

    Its own group keeps a terminal's Ctrl-C away from the broker, so our caller decides how it
    stops (a clean SIGTERM); the atexit guard kills it if the caller never does.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
    _running_children.add(process)
    return process


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM by pid (the broker's orderly shutdown), then SIGKILL if it takes longer than `timeout`."""
    if process.poll() is None:
        _signal(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    kill_process(process)


def kill_process(process: subprocess.Popen) -> None:
    """SIGKILL by pid and reap it: a crash, not a shutdown."""
    if process.poll() is None:
        _signal(process, signal.SIGKILL)
    process.wait()
    _running_children.discard(process)


# Children we started and have not stopped yet. A broker outliving the Python process that
# started it holds its ports and memory until someone finds it by hand, so kill them at exit.
_running_children: set[subprocess.Popen] = set()


@atexit.register
def _kill_forgotten_children() -> None:
    for process in list(_running_children):
        kill_process(process)


def _signal(process: subprocess.Popen, signum: signal.Signals) -> None:
    try:
        os.kill(process.pid, signum)
    except ProcessLookupError:  # exited between poll() and kill()
        pass
