"""The worker's HTTP endpoints: health, event accounting, lead counts, Prometheus metrics."""

from __future__ import annotations

from collections import Counter

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import codecs, metrics
from streams.app import app
from streams.config import scoring_model, settings
from streams.partitioning import partition_for
from streams.tables import leads_table


@app.page("/healthz")
async def healthz(self: View, request: Request) -> Response:
    """200 once the worker has partitions and its tables are recovered, 503 before."""
    ready = app.consumer is not None and bool(app.consumer.assignment()) and not app.rebalancing
    ready = ready and app.tables.recovery.completed.is_set()
    return self.json({"ready": ready, "model_version": scoring_model().version}, status=200 if ready else 503)


@app.page("/accounting")
async def accounting(self: View, request: Request) -> Response:
    return self.json(metrics.accounting())


@app.page("/stats")
async def stats(self: View, request: Request) -> Response:
    """Leads per stage and temperature in the partitions this worker actively owns."""
    stages: Counter[str] = Counter()
    temperatures: Counter[str] = Counter()
    # Standby replicas of other workers' partitions live in the same store: leave them out,
    # or a cluster-wide sum would count those leads twice.
    active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == leads_table.changelog_topic.get_topic_name()}
    partitions = settings().partitions
    for key, value in list(leads_table.items()):
        if partition_for(key, partitions) not in active:
            continue
        state = codecs.decode_state(key.decode(), value)
        stages[state.stage.value] += 1
        temperatures[state.temperature.value] += 1
    return self.json({
        "leads": sum(stages.values()),
        "leads_per_stage": dict(sorted(stages.items())),
        "leads_per_temperature": dict(sorted(temperatures.items())),
    })


@app.page("/metrics")
async def prometheus_metrics(self: View, request: Request) -> Response:
    return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST)
