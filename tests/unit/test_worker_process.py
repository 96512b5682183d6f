"""WorkerProcess, the handle tests and `leadstream dev` start workers with: a failure it is told to
expect ends the wait as soon as the log shows it, with the process stopped."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from streams.devtools.processes import WorkerFailed, WorkerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Logs a failure, then stays up retrying, as a worker does with a refused password.
RETRIES_FOREVER = "import time; print('SaslAuthenticationFailed: bad password', flush=True); time.sleep(600)"


def stand_in(tmp_path: Path) -> WorkerProcess:
    """A stand-in for `leadstream worker` (a Python one-liner): the handle, not the worker, is under test."""
    return WorkerProcess("127.0.0.1:1", tmp_path / "worker.log", command=(sys.executable, "-c", RETRIES_FOREVER))


async def test_a_failure_the_log_shows_stops_the_process_and_ends_the_wait(tmp_path: Path):
    worker = stand_in(tmp_path)
    worker.start()
    try:
        with pytest.raises(WorkerFailed, match="its log shows 'SaslAuthenticationFailed'"):
            await worker.wait_ready(timeout=120, fails_on=["CERTIFICATE_VERIFY_FAILED", "SaslAuthenticationFailed"])
        assert worker.process is not None and worker.process.poll() == -signal.SIGKILL
    finally:
        worker.kill()


async def test_without_the_sign_the_wait_runs_to_its_timeout_and_leaves_the_process_to_the_caller(tmp_path: Path):
    worker = stand_in(tmp_path)
    worker.start()
    try:
        with pytest.raises(WorkerFailed, match="not ready after"):
            await worker.wait_ready(timeout=1, fails_on=["CERTIFICATE_VERIFY_FAILED"])
        assert worker.process is not None and worker.process.poll() is None
    finally:
        worker.kill()
