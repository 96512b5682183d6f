"""One Apache Kafka for a whole parallel run: started by the xdist controller, used by every worker.

Under ``-n`` each xdist worker is a pytest session of its own, so a session fixture would start a
broker per worker. Instead the controller owns one: the first worker that asks for Kafka (the
``kafka_bootstrap`` fixture) leaves a request in a folder the controller named in the workers'
environment, the controller starts the broker and answers there, and it stops the broker when
the run ends. A run that never asks (``./run-tests tests/unit``) starts none. Modules keep to
their own topics and consumer groups (each pipeline takes a fresh prefix and app id), which is
what lets them share it; tests that stop or restart a broker build their own
(``apache_kafka_factory``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from streams.devtools.brokers import ApacheKafka, BrokerError, kafka_toolchain_available

SHARED_KAFKA_DIR = "LEADSTREAM_TEST_SHARED_KAFKA_DIR"  # set by the controller for its workers
# The first start may fetch the jars with Maven; pytest-timeout (300 s) bounds the test around it.
ANSWER_TIMEOUT_S = 280.0


def _write_answer(folder: Path, answer: dict[str, str]) -> None:
    """Written whole, then renamed: a worker never reads half an answer."""
    partial = folder / "answer.partial"
    partial.write_text(json.dumps(answer))
    partial.replace(folder / "answer.json")


class SharedKafka:
    """The controller's side: starts the broker on the first request, stops it at the end of the run."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.folder = Path(tempfile.mkdtemp(prefix="leadstream-shared-kafka-"))
        self.kafka: ApacheKafka | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="shared-kafka", daemon=True)

    def pytest_configure(self, config: pytest.Config) -> None:
        os.environ[SHARED_KAFKA_DIR] = str(self.folder)  # the workers, spawned after this, inherit it
        self._thread.start()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._done.set()
        self._thread.join()
        if self.kafka is not None:
            self.kafka.kill()  # its data goes with it: an orderly shutdown would only cost time
            self.kafka.stop()  # removes the data dir
        os.environ.pop(SHARED_KAFKA_DIR, None)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _serve(self) -> None:
        while not (self.folder / "wanted").exists():
            if self._done.wait(0.1):
                return
        available, reason = kafka_toolchain_available()
        if not available:
            _write_answer(self.folder, {"unavailable": f"Apache Kafka cannot run here: {reason}"})
            return
        self.kafka = ApacheKafka(partitions=self.partitions)
        try:
            _write_answer(self.folder, {"bootstrap": self.kafka.start()})
        except BrokerError as error:
            _write_answer(self.folder, {"failed": f"{type(error).__name__}: {error}"})


def register_shared_kafka(config: pytest.Config, partitions: int) -> None:
    """On the controller of a parallel run without ``KAFKA_BOOTSTRAP_SERVERS``: one broker for all workers."""
    parallel = bool(getattr(config.option, "numprocesses", None))
    if parallel and not hasattr(config, "workerinput") and not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        config.pluginmanager.register(SharedKafka(partitions), "leadstream-shared-kafka")


def shared_kafka_answer(folder: Path) -> dict[str, Any]:
    """The worker's side: asks the controller for the broker and waits for its answer."""
    (folder / "wanted").touch()
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while not (answer := folder / "answer.json").exists():
        if time.monotonic() > deadline:
            raise BrokerError(f"the run's shared Apache Kafka did not start within {ANSWER_TIMEOUT_S:.0f} s")
        time.sleep(0.1)
    return json.loads(answer.read_text())
