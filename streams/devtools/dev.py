"""``leadstream dev``: the whole product on the embedded broker, with simulated traffic.

Starts the embedded Tansu broker, one worker process, the collector and the journey simulator,
which sends through the collector's Segment batch endpoint (the real ingress); shows
qualification changes live, and on exit reports the event accounting (docs/design.md §3) of the
collector and of the worker.

All of them run on one clock (LEADSTREAM_CLOCK, streams/config/clock.py), by default a fast one
(``--speed``): decay has half-lives of days, and a demo on the wall clock never shows a lead cool.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
import webbrowser
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer

from streams.devtools.brokers import EmbeddedBroker
from streams.config.environment import settings_from
from streams.devtools.dev_accounting import accounting_verdict, print_accounting
from streams.config.clock import DEMO_SPEED, Clock, scaled_clock
from streams.devtools.live import ChangeTally, View
from streams.devtools.live_panel import make_view
from streams.devtools.simulator import PlannedEvent, send_waves
from streams.contracts.topic_admin import ensure_topics
from streams.contracts.topics import QUALIFICATION
from streams.devtools.processes import CollectorProcess, WorkerProcess

# Tansu completes a group join only after about half the session timeout: keep it short.
TANSU_WORKER_ENV = {
    "LEADSTREAM_APP_ID": "leadstream-dev",
    "LEADSTREAM_PARTITIONS": "4",
    "LEADSTREAM_SESSION_TIMEOUT_S": "6",
    "LEADSTREAM_HEARTBEAT_INTERVAL_S": "1.5",
    "LEADSTREAM_REBALANCE_TIMEOUT_S": "10",
}
# Tansu has no idempotent producer; the worker deduplicates by messageId all the same.
TANSU_COLLECTOR_ENV = {**TANSU_WORKER_ENV, "LEADSTREAM_COLLECTOR_IDEMPOTENT": "false"}
DRAIN_TIMEOUT_S = 45.0
# On a fast clock a demotion tick of a second would be a day and a half of demo time; this keeps it hours.
DEMO_TICK_S = 0.25


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
    collector_port: int | None = None
    speed: float = DEMO_SPEED  # 1: the wall clock


def clock_env(clock: Clock) -> dict[str, str]:
    """What gives the worker and the collector the demo's own clock (same origin, so one reading)."""
    if clock.kind != "scaled":
        return {"LEADSTREAM_CLOCK": clock.setting()}
    return {"LEADSTREAM_CLOCK": clock.setting(), "LEADSTREAM_DEMOTION_TICK_S": str(DEMO_TICK_S)}


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, kill, a closed terminal


class StoppedWhileStarting(Exception):
    """A stop signal came before everything was up: the children are stopped, there is no summary."""


async def run_dev(options: DevOptions) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="leadstream-dev-"))
    # Every child dies with dev: stopped by it on a signal, or by the kernel if dev is killed outright.
    broker = EmbeddedBroker(port=options.broker_port, log_path=workdir / "broker.log", dies_with_parent=True)
    stop, driving = asyncio.Event(), asyncio.Event()
    loop, starting = asyncio.get_running_loop(), asyncio.current_task()

    def on_stop_signal() -> None:
        if not stop.is_set() and not driving.is_set() and starting is not None:
            starting.cancel()  # still starting: give up at once, the finally below stops what is up
        stop.set()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_stop_signal)
    worker = collector = None
    clock = scaled_clock(options.speed)
    try:
        bootstrap = broker.start()
        print(f"broker   embedded Tansu on {bootstrap}, pid {broker.pid} (log {broker.log_path})")
        worker = WorkerProcess(bootstrap, workdir / "worker.log", dies_with_parent=True,
                               env={**TANSU_WORKER_ENV, **clock_env(clock), "LEADSTREAM_DATA_DIR": str(workdir / "data"),
                                    # The demo's broker starts empty each time: state on disk would outlive its changelogs.
                                    "LEADSTREAM_STORE": "memory"})
        collector = CollectorProcess(bootstrap, workdir / "collector.log", env={**TANSU_COLLECTOR_ENV, **clock_env(clock)},
                                     web_port=options.collector_port, dies_with_parent=True)
        await ensure_topics(settings_from({"KAFKA_BOOTSTRAP_SERVERS": bootstrap, **TANSU_WORKER_ENV}))
        worker.start()
        collector.start()
        print(f"worker   pid {worker.pid}, {worker.url} (log {worker.log_path})")
        print(f"collector pid {collector.pid}, {collector.url} (pixel {collector.url}/p.gif, snippet "
              f"{collector.url}/s.js; log {collector.log_path})")
        await worker.wait_ready()
        await collector.wait_ready()
        print(f"board    {board_url(worker)}" + (" (sign in with LEADSTREAM_API_TOKEN)"
                                                  if os.environ.get("LEADSTREAM_API_TOKEN") else ""))
        print(f"clock    {clock_description(clock)}")
        if options.open_board:
            webbrowser.open(board_url(worker))
        if options.simulate:
            print("ready    simulated visitors → collector → Kafka → worker; watching leads.qualification;"
                  " Ctrl-C stops\n")
        else:
            print(f"ready    no simulated traffic (--no-simulate): broker, worker and collector only. Send events"
                  f" to {collector.url}/v1/batch (or the pixel, or Kafka at {bootstrap}); watching"
                  " leads.qualification; Ctrl-C stops\n")
        driving.set()
        return await _drive(options, bootstrap, worker, collector, stop, clock)
    except asyncio.CancelledError:
        if stop.is_set():
            raise StoppedWhileStarting("stopped while starting: broker, worker and collector are stopped") from None
        raise
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        for child in (collector, worker):
            if child is not None:
                child.stop()
        broker.stop()


def clock_description(clock: Clock) -> str:
    if clock.kind != "scaled":
        return "real time (--speed 1)"
    return (f"1 s is {clock.speed / 86_400:.2f} days of demo time (--speed {clock.speed:g}; --speed 1 for real"
            " time): decay you would wait weeks for happens in seconds, and the board follows the same clock")


def board_url(worker: WorkerProcess) -> str:
    """The lead board on the dev worker, never with the token in it: the browser is started with the URL as an
    argument, which ``ps`` shows every user of the machine (and its history keeps). Its page asks for the token."""
    return f"{worker.url}/board"


async def _drive(
    options: DevOptions, bootstrap: str, worker: WorkerProcess, collector: CollectorProcess, stop: asyncio.Event,
    clock: Clock,
) -> dict[str, Any]:
    started = time.time()
    view = make_view(ChangeTally(clock, started), sys.stdout)
    sent: Counter[str] = Counter()
    if options.duration_s is not None:
        asyncio.get_running_loop().call_later(options.duration_s, stop.set)

    consumer = AIOKafkaConsumer(QUALIFICATION, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    tasks = [asyncio.create_task(_watch(consumer, view)), asyncio.create_task(_funnel(worker, view, sent, stop))]
    sending: asyncio.Task[None] | None = None
    if options.simulate:
        sending = asyncio.create_task(send_waves(
            _through(session, collector.url, sent), options.leads_per_wave, options.wave_span_s, options.seed,
            stop.is_set, clock=clock,
        ))
    try:
        await stop.wait()
        if sending is not None:
            await asyncio.gather(sending, return_exceptions=True)  # the batch in flight is answered, then it stops
        elapsed = time.time() - started
        intake, accounting = await _drained(collector, worker, sum(sent.values()))
        _, stats = await worker.get_json("/stats")
        await asyncio.sleep(1.5)  # let the last changes reach the view before counting them
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        view.close()
        await session.close()
        await consumer.stop()
    summary = _summary(bootstrap, elapsed, sent, intake, accounting, stats, view.tally)
    _print_summary(summary)
    if options.summary_json:
        options.summary_json.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return summary


def _through(session: aiohttp.ClientSession, url: str, sent: Counter[str]):
    """Delivers planned events as a browser or server library would: a Segment batch; a broken body alone."""
    async def deliver(events: list[PlannedEvent]) -> None:
        whole = [event for event in events if event.label != "malformed"]
        posts = [(f"{url}/v1/track", event.value) for event in events if event.label == "malformed"]
        if whole:
            posts.append((f"{url}/v1/batch", orjson.dumps({"batch": [orjson.loads(e.value) for e in whole]})))
        for target, body in posts:
            async with session.post(target, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()  # 200, or 400 naming each rejected event: the collector counts both
        sent.update(event.label for event in events)

    return deliver


async def _watch(consumer: AIOKafkaConsumer, view: View) -> None:
    async for record in consumer:
        view.on_change(record.value)


async def _funnel(worker: WorkerProcess, view: View, sent: Counter[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), view.funnel_every_s)
        if stop.is_set():
            return
        with contextlib.suppress(Exception):
            _, stats = await worker.get_json("/stats")
            _, accounting = await worker.get_json("/accounting")
            view.show_funnel(stats, accounting, sum(sent.values()))


async def _drained(
    collector: CollectorProcess, worker: WorkerProcess, events_sent: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Wait until the collector has answered for every sent event and the worker for every one it
    accepted (or the drain times out); returns both accountings."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    intake: dict[str, Any] = {}
    accounting: dict[str, Any] = {}
    while time.monotonic() < deadline:
        _, intake = await collector.get_json("/accounting")
        _, accounting = await worker.get_json("/accounting")
        if (intake["received"] >= events_sent and intake["balanced"]
                and accounting["received"] >= intake["accepted"] and accounting["balanced"]):
            break
        await asyncio.sleep(0.5)
    return intake, accounting


def _summary(
    bootstrap: str, elapsed: float, sent: Counter[str], intake: dict[str, Any], accounting: dict[str, Any],
    stats: dict[str, Any], tally: ChangeTally,
) -> dict[str, Any]:
    events_sent = sum(sent.values())
    return {
        "broker": {"kind": "embedded", "bootstrap": bootstrap},
        "duration_s": round(elapsed, 2),
        "events_sent": events_sent,
        "events_sent_by_label": dict(sorted(sent.items())),
        "events_per_second": round(events_sent / elapsed, 1) if elapsed else 0.0,
        # The collector: received = accepted + rejected + consent_refused; what it accepted, the worker received.
        "collector": intake,
        "accounting": accounting,
        **accounting_verdict(events_sent, intake, accounting),
        "clock": {"kind": tally.clock.kind, "speed": tally.clock.speed,
                  "demo_days": round(elapsed * tally.clock.speed / 86_400, 2)},
        "qualification_changes": len(tally.changes_seen),
        # Changes that moved a stage or a temperature, by what caused them ("decay": time alone did).
        "transitions": tally.summary(),
        "alerts": tally.alerts,
        "leads": stats.get("leads", 0),
        "leads_per_stage": stats.get("leads_per_stage", {}),
        "leads_per_temperature": stats.get("leads_per_temperature", {}),
    }


def _print_summary(summary: dict[str, Any]) -> None:
    print("\n── summary")
    print_accounting(summary)
    print(f"leads per stage {summary['leads_per_stage']}, per temperature {summary['leads_per_temperature']}")
    transitions = summary["transitions"]
    print(f"transitions by cause {transitions['by_cause']}, alerts {summary['alerts']}"
          f" ({summary['clock']['demo_days']} days of demo time)")
    for cause in sorted({*transitions["temperature_by_cause"], *transitions["stage_by_cause"]}):
        print(f"  {cause}: temperature {transitions['temperature_by_cause'].get(cause, {})},"
              f" stage {transitions['stage_by_cause'].get(cause, {})}")
