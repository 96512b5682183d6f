"""`leadstream kafka` and `leadstream worker` started as separate processes, as a user would."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

import streams
from streams.devtools.brokers import free_port
from streams.devtools.processes import WorkerProcess
from tests.e2e.cli import leadstream_command
from tests.integration.kafka_fixture import require_kafka_toolchain
from tests.integration.pipeline_harness import FAST_WORKER_ENV, SCRIPTED_CLOCK_ENV, identify, page, track

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]


def _read_bootstrap(process: subprocess.Popen[str], timeout: float) -> str:
    """The address `leadstream kafka` prints; fails after ``timeout`` even if it prints nothing at all.

    A thread reads the output (a bare readline() would block past any deadline) and keeps
    draining it afterwards, so a chatty broker never stalls on a full pipe.
    """
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)  # end of output

    threading.Thread(target=pump, args=(process.stdout,), daemon=True, name="kafka-stdout").start()
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            raise AssertionError(f"leadstream kafka exited with {process.wait(timeout=10)}: {''.join(seen[-20:])}")
        seen.append(line)
        if match := re.search(r"bootstrap:\s*(127\.0\.0\.1:\d+)", line):
            return match.group(1)
    raise AssertionError(f"leadstream kafka printed no bootstrap address within {timeout:.0f} s; "
                         f"its last output: {''.join(seen[-20:])!r}")


async def test_a_journey_is_scored_by_a_worker_process_on_a_kafka_process(tmp_path: Path):
    require_kafka_toolchain()
    port = free_port()
    kafka = subprocess.Popen(
        [*leadstream_command(), "kafka", "--port", str(port), "--data-dir", str(tmp_path / "kafka")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    worker = None
    try:
        bootstrap = _read_bootstrap(kafka, timeout=120)
        assert bootstrap == f"127.0.0.1:{port}"
        worker = WorkerProcess(bootstrap, tmp_path / "worker.log", command=leadstream_command(),
                               env={**FAST_WORKER_ENV, **SCRIPTED_CLOCK_ENV, "LEADSTREAM_DATA_DIR": str(tmp_path / "data")})
        worker.start()
        await worker.wait_ready()

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        for message in (identify("cli-lead", "c1", "ana@globex.com", 0), page("cli-lead", "c2", "/pricing", 1),
                        track("cli-lead", "c3", "Demo Requested", 2), track("cli-lead", "c4", "Trial Started", 3),
                        track("cli-lead", "c5", "Feature Used", 4)):
            await producer.send_and_wait("leads.events.raw", orjson.dumps(message), key=b"cli-lead")
        await producer.stop()

        consumer = AIOKafkaConsumer("leads.qualification", bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        seen: list[dict] = []
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(c["to_stage"] == "pql" for c in seen):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    seen.extend(orjson.loads(r.value) for r in records)
        finally:
            await consumer.stop()
        assert [(c["to_stage"], c["to_temperature"]) for c in seen] == [("iql", "cold"), ("iql", "warm"), ("pql", "warm")]
        # The version `leadstream --version` prints is the one the worker reports and stamps on what it writes.
        assert {c["producer"] for c in seen} == {f"leadstream/{streams.__version__}"}
        status, health = await worker.get_json("/healthz")
        assert status == 200 and health["leadstream_version"] == streams.__version__

        assert worker.stop() == 0, worker.log_tail()
    finally:
        if worker:
            worker.kill()
        if kafka.poll() is None:
            os.killpg(kafka.pid, signal.SIGINT)
        assert kafka.wait(timeout=60) == 0
        # `leadstream kafka` stops its broker on Ctrl-C: nothing is left listening.
        await asyncio.sleep(0.2)
        from streams.devtools.brokers import port_is_free
        assert port_is_free(port)
