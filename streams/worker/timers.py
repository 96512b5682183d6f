"""Periodic and start-up jobs of every worker (each for the partitions it owns)."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config.environment import scoring_model, settings
from streams.contracts import command_records
from streams.faust_ext.dropped_fetch import dropped_fetch_healer
from streams.worker import metrics, pipeline, stitching
from streams.worker.app import app
from streams.worker.context import WorkerContext
from streams.worker.tables import visitors_table
from streams.worker.topics import raw_events_topic, signals_topic
from streams.worker.wiring import active_partitions, worker_context

log = logging.getLogger(__name__)


class LagProbe:
    """Committed offsets come from the broker (what a restart would resume from), not Faust's memory."""

    def __init__(self) -> None:
        self.admin: AIOKafkaAdminClient | None = None
        self.offsets: AIOKafkaConsumer | None = None
        self.reported: set[tuple[str, str]] = set()

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self.admin is None or self.offsets is None:
            config = settings()
            security = config.security.client_kwargs()
            self.admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers, **security)
            await self.admin.start()
            self.offsets = AIOKafkaConsumer(bootstrap_servers=config.bootstrap_servers, **security)
            await self.offsets.start()
        return self.admin, self.offsets

    async def measure(self) -> None:
        sources = {raw_events_topic.get_topic_name(), signals_topic.get_topic_name()}
        owned = [TopicPartition(tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in sources]
        admin, offsets = await self._clients()
        committed = await admin.list_consumer_group_offsets(settings().app_id, partitions=owned)
        ends = await offsets.end_offsets(owned) if owned else {}
        now: set[tuple[str, str]] = set()
        for tp in owned:
            metadata = committed.get(tp)
            position = metadata.offset if metadata is not None and metadata.offset >= 0 else 0
            labels = (tp.topic, str(tp.partition))
            metrics.CONSUMER_LAG.labels(*labels).set(max(ends.get(tp, 0) - position, 0))
            now.add(labels)
        for gone in self.reported - now:  # partitions moved to another worker
            metrics.CONSUMER_LAG.remove(*gone)
        self.reported = now

    async def close(self) -> None:
        admin, offsets, self.admin, self.offsets = self.admin, self.offsets, None, None
        if offsets is not None:
            await offsets.stop()
        if admin is not None:
            await admin.close()


lag_probe = LagProbe()


@app.on_before_shutdown.connect
async def close_lag_probe(app: Any, **kwargs: Any) -> None:
    """Its clients live as long as the worker: stopped here, or the shutdown logs them as unclosed."""
    await lag_probe.close()


@app.task
async def publish_model_info() -> None:
    model = scoring_model()
    metrics.MODEL_INFO.labels(version=model.version, framework=model.criteria.framework.name).set(1)


@app.timer(settings().demotion_tick_s)
async def check_demotions() -> None:
    """Ask the stream to demote (or revisit) the leads, and to cool the accounts, whose time has come.

    Not a Faust windowed table: their expiry runs on wall-clock time and is not rebuilt from the
    changelog on recovery, so demotions would be lost after a restart. Our index is rebuilt from
    the leads table after every recovery, and the demotion itself runs in the stream: the timer
    only sends a command on leads.signals keyed by the lead, so the table write lands on the
    lead's own partition, in order with its events (no table writes outside stream iteration).
    """
    try:
        await pipeline.send_due(worker_context)
    except Exception:  # noqa: BLE001 — a failed tick is retried at the next one
        log.warning("demotion check failed", exc_info=True)


@app.timer(settings().lag_probe_s)
async def measure_consumer_lag() -> None:
    try:
        await lag_probe.measure()
    except Exception:  # noqa: BLE001 — a metrics probe must never take the worker down
        log.warning("consumer lag probe failed", exc_info=True)


# Every worker, for the partitions it owns (not on_leader): held anonymous history expires.
@app.timer(stitching.expiry_interval_s(worker_context))
async def expire_anonymous_history() -> None:
    try:
        await expire_due(worker_context, worker_context.clock.at_wall(time.time()))
    except Exception:  # noqa: BLE001 — expiry is retried on the next tick; the worker keeps scoring
        log.warning("expiring anonymous history failed", exc_info=True)


@app.timer(settings().heal_check_s)
async def heal_dropped_fetches() -> None:
    try:
        await dropped_fetch_healer.check(app)
    except Exception:  # noqa: BLE001 — a safety net must never take the worker down
        log.warning("checking for dropped fetches failed", exc_info=True)


async def expire_due(context: WorkerContext, now: float) -> None:
    """Ask each expired visitor's partition (this worker's own) to forget it, in order with its events."""
    for visitor_id in stitching.due_for_expiry(context, now, active_partitions(visitors_table)):
        await context.outbox.send(context.topics.signals, visitor_id.encode(), command_records.encode_command(
            command_records.EXPIRE, None, now, visitor_id=visitor_id))
