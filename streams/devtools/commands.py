"""Commands for trying leadstream out: the demo, the local brokers and the benchmark (run from a checkout)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from streams.cli_support import runs_async
from streams.config.clock import DEMO_SPEED, MAX_SPEED
from streams.config.environment import file_model
from streams.errors import BenchUnavailable


@click.command()
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one)")
def broker(port: int | None) -> None:
    """Run the embedded Tansu broker (memory storage) in the foreground until Ctrl-C."""
    from streams.devtools.brokers.foreground import run_embedded_broker

    raise SystemExit(run_embedded_broker(port))


@click.command()
@click.option("--port", type=int, default=None, help="Broker port on 127.0.0.1 (default: a free one)")
@click.option("--data-dir", type=click.Path(), default=None, help="Keep the log dir here across restarts")
def kafka(port: int | None, data_dir: str | None) -> None:
    """Run a single-node Apache Kafka 4.x (KRaft) in the foreground until Ctrl-C."""
    from streams.devtools.brokers.foreground import run_kafka

    raise SystemExit(run_kafka(port, Path(data_dir) if data_dir else None))


@click.command()
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: Ctrl-C)")
@click.option("--summary-json", type=click.Path(), default=None, help="Write the run's summary here")
@click.option("--no-simulate", is_flag=True, default=False,
              help="No simulated traffic: broker, worker and collector only, for events of your own")
@click.option("--broker-port", type=int, default=None, help="Embedded broker port (default: a free one)")
@click.option("--leads", type=int, default=150, help="Leads per simulated wave")
@click.option("--wave-seconds", type=float, default=45.0, help="How long one wave of journeys lasts")
@click.option("--seed", type=int, default=1, help="Seed of the simulated journeys")
@click.option("--open", "open_board", is_flag=True, default=False, help="Open the lead board in your web browser")
@click.option("--collector-port", type=int, default=None, help="Collector port on 127.0.0.1 (default: a free one)")
@click.option("--speed", type=click.FloatRange(min=1.0, max=MAX_SPEED), default=None,
              help=f"How much faster than real time the demo's clock runs (worker, collector, simulator and board);"
                   f" default {DEMO_SPEED:g}, a second is a day and a half, so a minute shows leads cool; 1 is real"
                   f" time, the default with --no-simulate (events of your own carry wall-clock times)")
@runs_async
async def dev(
    duration: float | None, summary_json: str | None, no_simulate: bool, broker_port: int | None,
    leads: int, wave_seconds: float, seed: int, open_board: bool, collector_port: int | None, speed: float | None,
) -> None:
    """Run broker, worker, collector and simulated lead journeys (through the collector); show leads move."""
    from streams.devtools.dev import DevOptions, StoppedWhileStarting, run_dev

    file_model()  # a bad LEADSTREAM_MODEL is named in one line before any broker or worker starts
    try:
        summary = await run_dev(DevOptions(
            duration_s=duration, summary_json=Path(summary_json) if summary_json else None,
            simulate=not no_simulate, broker_port=broker_port, leads_per_wave=leads,
            wave_span_s=wave_seconds, seed=seed, open_board=open_board, collector_port=collector_port,
            speed=speed if speed is not None else 1.0 if no_simulate else DEMO_SPEED,
        ))
    except StoppedWhileStarting as stopped:
        print(f"leadstream dev: {stopped}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    if not summary["adds_up"]:
        raise SystemExit(1)


@click.command()
@click.option("--events", type=int, default=None, help="Events to preload per stage (default 200,000; --quick 4,000)")
@click.option("--leads", type=int, default=None, help="Leads they belong to (default 20,000; --quick 400)")
@click.option("--broker", type=click.Choice(["kafka", "embedded"]), default="kafka",
              help="Apache Kafka started here (default; KAFKA_BOOTSTRAP_SERVERS uses yours) or embedded Tansu")
@click.option("--json", "json_path", type=click.Path(), default=None, help="Write the figures here as JSON")
@click.option("--quick", is_flag=True, default=False, help="A smoke-sized run: every figure, a few thousand events")
@click.option("--latency-rate", type=click.FloatRange(min=1.0), default=None,
              help="Events/s of the latency stage (default 2,000, the targets' rate; lower shows a worker's latency"
                   " below its limit)")
@click.option("--shadow", is_flag=True, default=False,
              help="Measure a shadow model's cost instead: events/s of one worker without and with one"
                   " (target: at most 30% slower)")
@runs_async
async def bench(events: int | None, leads: int | None, broker: str, json_path: str | None, quick: bool,
                latency_rate: float | None, shadow: bool) -> None:
    """Measure events/s (transport, framework, naive scorer, leadstream ×1 and ×2), latency and memory;
    with --shadow, events/s with and without a shadow model."""
    checkout = Path(__file__).resolve().parents[2]  # streams/ is installed in place from a checkout
    if not (checkout / "bench" / "cli.py").is_file():
        raise BenchUnavailable("leadstream bench runs from a checkout of the repository (bench/ is not installed):"
                               " run it there, where ./run-tests installs leadstream in place")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    # The stages run bench's own apps (python -m bench.noop_app, ...) as child processes.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(checkout), os.environ.get("PYTHONPATH"))))
    from bench.cli import BenchOptions, run_bench

    chosen = {"events": events, "leads": leads, "broker": broker, "json_path": Path(json_path) if json_path else None,
              "latency_rate": latency_rate, "shadow": shadow or None}
    options = BenchOptions.quick(**chosen) if quick else BenchOptions(
        **{key: value for key, value in chosen.items() if value is not None})
    await run_bench(options)
