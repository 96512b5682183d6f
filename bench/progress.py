"""What the comparison apps report to the benchmark: how many events, first and last seen.

Timestamps are taken inside the measured process, so the figure does not depend on how
often the benchmark asks.
"""

from __future__ import annotations

import time
from typing import Any


class Progress:
    def __init__(self) -> None:
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def add(self, events: int) -> None:
        now = time.time()
        if self.first_at is None:
            self.first_at = now
        self.count += events
        self.last_at = now

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.count, "first_at": self.first_at, "last_at": self.last_at}


def configure_comparison_app(app: Any) -> None:
    """The comparison apps read the same environment as ``leadstream worker``, so the benchmark starts
    them the same way (WorkerProcess) with the same topics, partitions and group timing."""
    from streams.config.environment import settings
    from streams.worker.faust_settings import apply_settings

    @app.on_configured.connect
    def configure(app: Any, conf: Any, **kwargs: object) -> None:
        apply_settings(conf, settings())


def serve_progress(app: Any, progress: Progress, wait_for_recovery: bool) -> None:
    """``/healthz`` (ready once assigned, not rebalancing, tables recovered if it has any) and ``/progress``."""
    from faust.web import Request, Response, View

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        ready = app.consumer is not None and bool(app.consumer.assignment()) and not app.rebalancing
        ready = ready and (not wait_for_recovery or app.tables.recovery.completed.is_set())
        return self.json({"ready": ready}, status=200 if ready else 503)

    @app.page("/progress")
    async def report(self: View, request: Request) -> Response:
        return self.json(progress.as_dict())
