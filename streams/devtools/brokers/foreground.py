"""What `leadstream broker` and `leadstream kafka` run: start a broker, print where it is, wait.

Plain functions returning an exit code, so the click commands stay one line each.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Protocol

from streams.devtools.brokers.embedded import EmbeddedBroker
from streams.devtools.brokers.kafka import ApacheKafka

EXIT_OK = 0


class _Broker(Protocol):
    def start(self) -> str: ...
    def stop(self) -> None: ...


def run_embedded_broker(port: int | None) -> int:
    """Run the embedded Tansu broker until SIGINT/SIGTERM."""
    return _serve(EmbeddedBroker(port=port), "embedded Tansu broker (memory storage)")


def run_kafka(port: int | None, data_dir: Path | None) -> int:
    """Run a single-node Apache Kafka until SIGINT/SIGTERM; `data_dir` keeps its topics across runs."""
    kept = f"data in {data_dir}" if data_dir else "temporary data"
    return _serve(ApacheKafka(port=port, data_dir=data_dir), f"Apache Kafka (KRaft, {kept})")


def _serve(broker: _Broker, description: str) -> int:
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    # Installed before start() so a Ctrl-C during a slow first start still stops the child cleanly.
    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        bootstrap = broker.start()  # a BrokerError is said by the command line (streams/failures.py)
        if not stop_requested.is_set():
            print(f"{description} is running; Ctrl-C stops it", flush=True)
            print(f"bootstrap: {bootstrap}")
            print(f"export KAFKA_BOOTSTRAP_SERVERS={bootstrap}", flush=True)
            while not stop_requested.wait(timeout=0.5):  # a timed wait keeps signal delivery prompt
                pass
        return EXIT_OK
    finally:
        broker.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
