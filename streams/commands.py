"""CLI commands beside Faust's own ``worker``: brokers for development and the demo."""

from __future__ import annotations

from pathlib import Path

from faust.cli import option

from streams.app import app


@app.command(option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one)"))
async def broker(self, port: int | None) -> None:
    """Run the embedded Tansu broker (memory storage) in the foreground until Ctrl-C."""
    from streams.brokers.cli import run_embedded_broker

    raise SystemExit(run_embedded_broker(port))
