"""``leadstream dev``: the whole product on the embedded broker, with simulated traffic.

Starts the embedded Tansu broker, one worker process and the journey simulator, shows
qualification changes live, and on exit reports the event accounting (DESIGN.md §3).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
import webbrowser
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.brokers import EmbeddedBroker
from streams.config import settings_from
from streams.live import LiveView
from streams.simulator import PlannedEvent, send_waves
from streams.topic_admin import ensure_topics
from streams.topics import QUALIFICATION, RAW_EVENTS
from streams.worker_process import WorkerProcess

# Tansu completes a group join only after about half the session timeout: keep it short.
TANSU_WORKER_ENV = {
    "LEADSTREAM_APP_ID": "leadstream-dev",
    "LEADSTREAM_PARTITIONS": "4",
    "LEADSTREAM_SESSION_TIMEOUT_S": "6",
    "LEADSTREAM_HEARTBEAT_INTERVAL_S": "1.5",
    "LEADSTREAM_REBALANCE_TIMEOUT_S": "10",
}
FUNNEL_EVERY_S = 5.0
DRAIN_TIMEOUT_S = 45.0


@dataclass(frozen=True)
class DevOptions:
    duration_s: float | None
    summary_json: Path | None
    simulate: bool
    broker_port: int | None
    leads_per_wave: int
    wave_span_s: float
    seed: int
    open_board: bool = False


async def run_dev(options: DevOptions) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="leadstream-dev-"))
    broker = EmbeddedBroker(port=options.broker_port, log_path=workdir / "broker.log")
    bootstrap = broker.start()
    worker = WorkerProcess(
        bootstrap, workdir / "worker.log", env={**TANSU_WORKER_ENV, "LEADSTREAM_DATA_DIR": str(workdir / "data")}
    )
    print(f"broker   embedded Tansu on {bootstrap} (log {broker.log_path})")
    try:
        await ensure_topics(settings_from({"KAFKA_BOOTSTRAP_SERVERS": bootstrap, **TANSU_WORKER_ENV}))
        worker.start()
        print(f"worker   pid {worker.pid}, {worker.url} (log {worker.log_path})")
        await worker.wait_ready()
        print(f"board    {worker.url}/board" + (" (sign in once with ?token=<LEADSTREAM_API_TOKEN>)"
                                                 if os.environ.get("LEADSTREAM_API_TOKEN") else ""))
        if options.open_board:
            webbrowser.open(board_url(worker))
        print("ready    watching leads.qualification; Ctrl-C stops\n")
        return await _drive(options, bootstrap, worker)
    finally:
        worker.stop()
        broker.stop()


def board_url(worker: WorkerProcess) -> str:
    """The lead board on the dev worker; with LEADSTREAM_API_TOKEN set, the link that signs in once (never printed)."""
    url = f"{worker.url}/board"
    return f"{url}?token={os.environ['LEADSTREAM_API_TOKEN']}" if os.environ.get("LEADSTREAM_API_TOKEN") else url


async def _drive(options: DevOptions, bootstrap: str, worker: WorkerProcess) -> dict[str, Any]:
    started = time.time()
    view = LiveView(started_at=started)
    sent: Counter[str] = Counter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if options.duration_s is not None:
        loop.call_later(options.duration_s, stop.set)

    consumer = AIOKafkaConsumer(QUALIFICATION, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    tasks = [asyncio.create_task(_watch(consumer, view)), asyncio.create_task(_funnel(worker, view, sent, stop))]
    if options.simulate:
        def on_sent(event: PlannedEvent) -> None:
            sent[event.label] += 1

        tasks.append(asyncio.create_task(send_waves(
            producer, RAW_EVENTS, options.leads_per_wave, options.wave_span_s, options.seed, stop.is_set, on_sent,
        )))
    try:
        await stop.wait()
        await producer.flush()
        elapsed = time.time() - started
        accounting = await _drained(worker, sum(sent.values()))
        _, stats = await worker.get_json("/stats")
        await asyncio.sleep(1.5)  # let the last changes reach the view before counting them
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await consumer.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    summary = _summary(bootstrap, elapsed, sent, accounting, stats, view)
    _print_summary(summary)
    if options.summary_json:
        options.summary_json.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return summary


async def _watch(consumer: AIOKafkaConsumer, view: LiveView) -> None:
    async for record in consumer:
        view.on_change(record.value)


async def _funnel(worker: WorkerProcess, view: LiveView, sent: Counter[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), FUNNEL_EVERY_S)
        if stop.is_set():
            return
        with contextlib.suppress(Exception):
            _, stats = await worker.get_json("/stats")
            _, accounting = await worker.get_json("/accounting")
            view.show_funnel(stats, accounting, sum(sent.values()))


async def _drained(worker: WorkerProcess, events_sent: int) -> dict[str, Any]:
    """Wait until every sent event is accounted for (or the drain times out)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    accounting: dict[str, Any] = {}
    while time.monotonic() < deadline:
        _, accounting = await worker.get_json("/accounting")
        if accounting["received"] >= events_sent and accounting["balanced"]:
            break
        await asyncio.sleep(0.5)
    return accounting


def _summary(
    bootstrap: str, elapsed: float, sent: Counter[str], accounting: dict[str, Any],
    stats: dict[str, Any], view: LiveView,
) -> dict[str, Any]:
    events_sent = sum(sent.values())
    return {
        "broker": {"kind": "embedded", "bootstrap": bootstrap},
        "duration_s": round(elapsed, 2),
        "events_sent": events_sent,
        "events_sent_by_label": dict(sorted(sent.items())),
        "events_per_second": round(events_sent / elapsed, 1) if elapsed else 0.0,
        "accounting": accounting,
        "adds_up": accounting.get("balanced", False) and accounting.get("received") == events_sent,
        "qualification_changes": len(view.changes_seen),
        "transitions": {
            "stage": dict(sorted(view.stage_transitions.items())),
            "temperature": dict(sorted(view.temperature_transitions.items())),
        },
        "leads": stats.get("leads", 0),
        "leads_per_stage": stats.get("leads_per_stage", {}),
        "leads_per_temperature": stats.get("leads_per_temperature", {}),
    }


def _print_summary(summary: dict[str, Any]) -> None:
    a = summary["accounting"]
    print("\n── summary")
    print(f"events sent {summary['events_sent']} in {summary['duration_s']} s ({summary['events_per_second']}/s)")
    print(
        f"received {a.get('received')} = scored {a.get('scored')} + ignored {a.get('ignored')} "
        f"{a.get('ignored_by_reason')} + deduplicated {a.get('deduplicated')} + dead-lettered "
        f"{a.get('dead_lettered')} {a.get('dead_lettered_by_reason')} + held {a.get('held')}"
        f"  → {'adds up' if summary['adds_up'] else 'DOES NOT ADD UP'}"
    )
    print(f"leads per stage {summary['leads_per_stage']}, per temperature {summary['leads_per_temperature']}")
    print(f"transitions {summary['transitions']}")
