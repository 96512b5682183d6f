"""CLI commands beside Faust's own ``worker``: brokers for development and the demo."""

from __future__ import annotations

from pathlib import Path

from click import Path as click_path
from faust.cli import option

from streams.app import app


@app.command(option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one)"))
async def broker(self, port: int | None) -> None:
    """Run the embedded Tansu broker (memory storage) in the foreground until Ctrl-C."""
    from streams.brokers.cli import run_embedded_broker

    raise SystemExit(run_embedded_broker(port))


@app.command(
    option("--port", type=int, default=None, help="Broker port on 127.0.0.1 (default: a free one)"),
    option("--data-dir", type=click_path(), default=None, help="Keep the log dir here across restarts"),
)
async def kafka(self, port: int | None, data_dir: str | None) -> None:
    """Run a single-node Apache Kafka 4.x (KRaft) in the foreground until Ctrl-C."""
    from streams.brokers.cli import run_kafka

    raise SystemExit(run_kafka(port, Path(data_dir) if data_dir else None))


@app.command(
    option("--duration", type=float, default=None, help="Stop after this many seconds (default: Ctrl-C)"),
    option("--summary-json", type=click_path(), default=None, help="Write the run's summary here"),
    option("--no-simulate", is_flag=True, default=False, help="Start broker and worker only"),
    option("--broker-port", type=int, default=None, help="Embedded broker port (default: a free one)"),
    option("--leads", type=int, default=150, help="Leads per simulated wave"),
    option("--wave-seconds", type=float, default=45.0, help="How long one wave of journeys lasts"),
    option("--seed", type=int, default=1, help="Seed of the simulated journeys"),
)
async def dev(
    self, duration: float | None, summary_json: str | None, no_simulate: bool, broker_port: int | None,
    leads: int, wave_seconds: float, seed: int,
) -> None:
    """Run broker, worker and simulated lead journeys on the embedded broker; show leads move."""
    from streams.dev import DevOptions, run_dev

    summary = await run_dev(DevOptions(
        duration_s=duration, summary_json=Path(summary_json) if summary_json else None,
        simulate=not no_simulate, broker_port=broker_port, leads_per_wave=leads,
        wave_span_s=wave_seconds, seed=seed,
    ))
    if not summary["adds_up"]:
        raise SystemExit(1)
