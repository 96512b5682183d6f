"""Running ``leadstream worker`` (or ``collector``) as a child process: for ``leadstream dev``, tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from streams.devtools.brokers.ports import free_port
from streams.devtools.parent_death import dies_with_parent
from streams.errors import StreamsError

DEFAULT_COMMAND = (sys.executable, "-m", "streams")


class WorkerFailed(StreamsError):
    """The worker process exited or never became ready."""


class WorkerProcess:
    def __init__(
        self,
        bootstrap: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        web_port: int | None = None,
        command: Sequence[str] = DEFAULT_COMMAND,
        dies_with_parent: bool = False,
    ) -> None:
        self.bootstrap = bootstrap
        self.dies_with_parent = dies_with_parent  # `leadstream dev`: SIGTERM from the kernel if dev itself dies
        self.log_path = log_path
        self.web_port = web_port or free_port()
        self.extra_env = dict(env or {})
        self.command = tuple(command)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "LEADSTREAM_WEB_PORT": str(self.web_port),
            "LEADSTREAM_WEB_HOST": "127.0.0.1",
            **self.extra_env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*self.command, *self.arguments()],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=dies_with_parent() if self.dies_with_parent else None,
            )

    def arguments(self) -> list[str]:
        # leadstream's worker names it --log-level; a bare Faust app (the benchmark's baselines) --loglevel.
        return ["worker", "--log-level" if self.command == DEFAULT_COMMAND else "--loglevel", "info"]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_shows(self, texts: Sequence[str]) -> str | None:
        """The first of ``texts`` found in the log so far, if any."""
        if not texts:
            return None
        try:
            log = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        return next((text for text in texts if text in log), None)

    async def get_json(self, path: str, timeout: float = 30.0) -> tuple[int, Any]:
        # A worker in the middle of a large batch answers when the batch is done: on a busy
        # machine that can take seconds, which is slow, not broken.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(self.url + path) as response:
                return response.status, await response.json(content_type=None)

    async def wait_ready(self, timeout: float = 90.0, fails_on: Sequence[str] = ()) -> None:
        """Until /healthz says the worker holds partitions with recovered tables.

        ``fails_on``: log texts that mean it never will (a refused password, say). Some failures
        leave the process up, retrying; once its log shows one, it is killed and WorkerFailed
        raised at once rather than after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = self.process and self.process.returncode
                raise WorkerFailed(f"{self.arguments()[0]} exited with {code}:\n{self.log_tail()}")
            if shown := self.log_shows(fails_on):
                self.kill()
                raise WorkerFailed(f"{self.arguments()[0]} failed, its log shows {shown!r}:\n{self.log_tail()}")
            try:
                status, _ = await self.get_json("/healthz", timeout=2.0)
                if status == 200:
                    return
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):  # ValueError: not JSON (yet)
                pass
            await asyncio.sleep(0.3)
        raise WorkerFailed(f"{self.arguments()[0]} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM runs Faust's graceful shutdown (final commit); SIGKILL only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()


class CollectorProcess(WorkerProcess):
    """``leadstream collector`` on its own port; ready (``/healthz`` 200) once its producer is connected."""

    def arguments(self) -> list[str]:
        return ["collector", "--port", str(self.web_port)]
