"""The worker's HTTP endpoints: health, event accounting, lead counts, Prometheus metrics."""

from __future__ import annotations

from faust.exceptions import ConsumerNotStarted
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.web import Request, Response, View
from prometheus_client import REGISTRY

from streams import __version__
from streams.worker import metrics, model_report
from streams.worker.app import app
from streams.config.environment import scoring_model
from streams.worker.stitching import held_visitors
from streams.worker.tables import visitors_table
from streams.worker.wiring import active_partitions, worker_context


@app.page("/healthz")
async def healthz(self: View, request: Request) -> Response:
    """200 once the worker has partitions and its tables are recovered, 503 before."""
    try:
        ready = app.consumer is not None and bool(app.consumer.assignment()) and not app.rebalancing
    except ConsumerNotStarted:  # asked while the worker is still starting: not ready, not an error
        ready = False
    ready = ready and app.tables.recovery.completed.is_set()
    running = model_report.current_report()
    return self.json({"ready": ready, "model_version": scoring_model().version, "model_digest": running.digest,
                      "model_source": running.source, "worker": running.worker, "leadstream_version": __version__},
                     status=200 if ready else 503)


@app.page("/accounting")
async def accounting(self: View, request: Request) -> Response:
    return self.json(metrics.accounting())


@app.page("/stats")
async def stats(self: View, request: Request) -> Response:
    """Leads per stage and temperature, and anonymous visitors held, in the partitions this worker actively owns."""
    census = worker_context.census
    per_stage = census.per_stage()
    return self.json({
        "leads": sum(per_stage.values()),
        "leads_per_stage": per_stage,
        "leads_per_temperature": census.per_temperature(),
        # Not leads yet: visitors whose events wait for an identify (GET /leads/{visitor id} shows one).
        "anonymous_visitors_held": held_visitors(worker_context, active_partitions(visitors_table)),
        "anonymous_events_held": worker_context.held.total(),
    })


# GET /metrics: ours and Faust's own (per-topic counts, event runtime, commits, rebalances).
setup_prometheus_sensors(app, pattern="/metrics", registry=REGISTRY, name_prefix="faust")
