"""Switching the live model without a restart: `leadstream model apply` and what every worker does.

The applied model is one record on leads.control (one partition, compacted, kept forever).
Every worker reads that topic whole, outside its consumer group: at start, to score with the
latest applied model (which wins over LEADSTREAM_MODEL), and then as it runs. On a new model a
worker validates it, swaps it in, and sends a re-classify command through leads.signals for
every held lead it actively owns, so each lead is re-classified in the stream, on its own
partition, in order with its events (scoring.switch.reclassify_under); every change that causes
carries the new model version. A lead remembers the version it was last classified under, so
after a rebalance or a restart the new owner re-classifies any lead still on an older one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import TopicPartition

from scoring import ModelError
from scoring.switch import half_life_change
from streams.contracts import command_records, lead_records
from streams.contracts.control_records import (
    AppliedModel, ShadowModel, applied_from, control_consumer, control_topic_name, is_shadow, is_worker_report,
    read_control, shadow_from,
)
from streams.worker import metrics, model_report
from streams.worker.app import app
from streams.config.environment import file_model, model_digest, scoring_model, settings, use_model
from streams.contracts.partitioning import partition_for
from streams.worker.tables import leads_table
from streams.worker.wiring import active_partitions, worker_context

log = logging.getLogger(__name__)
FROM_FILE = "file"  # what re-classifies leads when the model came from LEADSTREAM_MODEL
RETRY_S = 2.0


class _Following:
    """Where this worker's reading of leads.control stands, and the switch it last made."""

    next_offset = 0
    applied: AppliedModel | None = None


async def adopt_applied_model() -> None:
    """At start, before any event is scored: take the latest applied model over LEADSTREAM_MODEL's, and the shadow."""
    control = await read_control(settings())
    applied, _Following.next_offset = control.applied, control.end
    if applied is not None:
        _adopt(applied)
    shadow = control.shadow
    if shadow is not None and shadow.model is not None:
        if (problem := half_life_change(scoring_model(), shadow.model)) is not None:
            log.error("not running shadow model %s: %s", shadow.model.version, problem)
            model_report.refused_applied_shadow(shadow, problem)
        else:
            # Leads started under it before this worker came hold their shadow state; the rest start at their next input.
            _use_shadow(shadow)


def _adopt(applied: AppliedModel) -> None:
    problem = half_life_change(file_model(), applied.model)
    if applied.model.version != file_model().version:
        log.warning("scoring with model %s, applied %s on leads.control; LEADSTREAM_MODEL has %s%s",
                    applied.model.version, applied.applied_at, file_model().version,
                    f" ({problem})" if problem else "")
    _switch(applied)


def _switch(applied: AppliedModel) -> None:
    previous = scoring_model()
    use_model(applied.model)
    _Following.applied = applied
    model_report.running_applied(applied)
    if previous.version != applied.model.version:
        try:
            metrics.MODEL_INFO.remove(previous.version, previous.criteria.framework.name)
        except KeyError:
            pass  # not published yet
    metrics.MODEL_INFO.labels(version=applied.model.version, framework=applied.model.criteria.framework.name).set(1)


def switch_cause() -> str:
    """The cause id of re-classifications under the model in use now."""
    applied = _Following.applied
    offset = str(applied.offset) if applied is not None and applied.model is scoring_model() else FROM_FILE
    return f"model:{scoring_model().version}@{offset}"


@app.task
async def follow_applied_models() -> None:
    """Switch to each model applied while this worker runs (reconnecting if the broker goes away)."""
    config = settings()
    while True:
        consumer = control_consumer(config)
        try:
            await consumer.start()
            partition = TopicPartition(control_topic_name(config), 0)
            consumer.assign([partition])
            consumer.seek(partition, _Following.next_offset)
            while True:
                for record in (await consumer.getmany(partition, timeout_ms=1000)).get(partition, []):
                    await on_control_record(record)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 — a lost connection must not stop model switches for good
            log.warning("reading leads.control failed; retrying", exc_info=True)
            await asyncio.sleep(RETRY_S)
        finally:
            await consumer.stop()


async def on_control_record(record: Any) -> None:
    _Following.next_offset = record.offset + 1
    if is_worker_report(record) or record.value is None:
        return  # what the workers say they run (streams/worker/model_report.py)
    if is_shadow(record):
        await on_shadow_record(record)
        return
    try:
        applied = applied_from(record)
    except (ValueError, ModelError) as exc:
        log.error("leads.control offset %d is not a model I can use: %s", record.offset, exc)
        return
    current = scoring_model()
    if applied.model.version == current.version:
        if model_digest(applied.text) == model_report.running_digest():
            _Following.applied = applied
            model_report.running_applied(applied)  # the very model it runs: it now runs it as applied
            return
        problem = f"it has the version of the model running here ({current.version}) but other contents"
    else:
        problem = half_life_change(current, applied.model)
    if problem:
        # `leadstream model apply` refuses these; a record written some other way is refused here.
        log.error("not switching to model %s: %s", applied.model.version, problem)
        model_report.refused_applied(applied, problem)
        return
    _switch(applied)
    sent = await reclassify_owned(owned_leads(lead_records.classified_under(applied.model.version)))
    log.warning("switched to model %s (was %s); re-classifying %d held leads", applied.model.version,
                current.version, sent)


async def on_shadow_record(record: Any) -> None:
    """`leadstream model shadow`: run the shadow beside the live model (each held lead starts now), or stop it."""
    try:
        shadow = shadow_from(record)
    except (ValueError, KeyError, ModelError) as exc:
        log.error("leads.control offset %d is not a shadow model I can use: %s", record.offset, exc)
        return
    if shadow.model is None:
        if worker_context.shadow.model is not None:
            log.warning("shadow model %s switched off", worker_context.shadow.model.version)
        worker_context.shadow.use(None)
        model_report.running_shadow(None)
        return
    problem = half_life_change(scoring_model(), shadow.model)
    if problem:
        # `model shadow` refuses these; one written some other way replaces the earlier shadow all the same.
        log.error("not running shadow model %s: %s", shadow.model.version, problem)
        worker_context.shadow.use(None)
        model_report.refused_applied_shadow(shadow, problem)
        return
    _use_shadow(shadow)
    model, cause = scoring_model(), worker_context.shadow.cause
    keys = owned_leads()
    for key in keys:  # each lead's shadow state starts in the stream, on its own partition (shadow_start)
        await worker_context.outbox.send(worker_context.topics.signals, key, command_records.encode_command(
            command_records.SHADOW_START, key.decode(), worker_context.clock.now(), version=shadow.model.version,
            cause=cause))
    log.warning("running shadow model %s beside %s; starting %d held leads under it", shadow.model.version,
                model.version, len(keys))


def _use_shadow(shadow: ShadowModel) -> None:
    assert shadow.model is not None
    worker_context.shadow.use(shadow.model, f"shadow:{shadow.model.version}@{shadow.offset}")
    model_report.running_shadow(shadow)


def owned_leads(skip: tuple[bytes, ...] = ()) -> list[bytes]:
    """Keys of the leads this worker actively owns, at a model switch or a shadow's start (a scan: both are rare).

    A stored state whose bytes start with one of ``skip`` is passed over without being decoded.
    """
    partitions, active = settings().partitions, active_partitions(leads_table)
    return [key for key, value in list(leads_table.items())
            if value and partition_for(key, partitions) in active and not value.startswith(skip)]


async def reclassify_owned(keys: list[bytes]) -> int:
    model, cause = scoring_model(), switch_cause()
    context = worker_context
    for key in keys:
        # Each lead is re-classified in the stream (streams/worker/lead_commands.py reclassify).
        await context.outbox.send(context.topics.signals, key, command_records.encode_command(
            command_records.RECLASSIFY, key.decode(), context.clock.now(), version=model.version, cause=cause))
    return len(keys)


async def reclassify_stale_leads(keys: list[bytes]) -> None:
    """After a rebalance or restart: the leads of the partitions newly owned still classified under another model
    (the recount found them, streams/worker/pipeline.py) catch up."""
    try:
        sent = await reclassify_owned(keys)
        if sent:
            log.warning("re-classifying %d held leads last classified under another model", sent)
    except Exception:  # noqa: BLE001 — Faust retries a failing recovery callback forever
        log.exception("re-classifying leads after recovery failed; they catch up at their next event")
