"""``leadstream collector``: the HTTP front door, run until Ctrl-C."""

from __future__ import annotations

import click

from streams.cli_support import runs_async
from streams.collector import collector_settings, run_collector
from streams.config.environment import settings
from streams.preflight import check_kafka_answers, check_port_free


@click.command()
@click.option("--port", type=int, default=None, help="Port (default: LEADSTREAM_COLLECTOR_PORT, else 8080)")
@click.option("--host", default=None, help="Address to bind (default: LEADSTREAM_WEB_HOST)")
@runs_async
async def collector(port: int | None, host: str | None) -> None:
    """Run the HTTP collector (pixel, Segment API, forms, JS snippet) producing to leads.events.raw."""
    config = collector_settings()
    host, port = host or settings().web_host, config.port if port is None else port
    check_port_free(host, port, "--port (LEADSTREAM_COLLECTOR_PORT)")
    await check_kafka_answers(settings())
    await run_collector(settings(), config, host, port)
