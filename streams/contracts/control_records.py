"""The leads.control contract: the applied scoring model's record, the workers' model reports, and reading them back.

Two kinds of record share the one compacted partition: the applied model (key ``model``) and one
report per running worker (key ``worker:<its URL>``) saying which model it scores with, its content
digest and where it came from. A worker re-sends its report every REPORT_EVERY_S and deletes it
(a tombstone) when it stops, so ``leadstream model show`` and ``model apply`` know the workers on
every host from Kafka alone.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from scoring import ModelError, ScoringModel, parse_model
from streams.config.environment import Settings
from streams.contracts.encoding import iso_time
from streams.contracts.topics import CONTROL

log = logging.getLogger(__name__)


MODEL_APPLIED = "model_applied"
WORKER_MODEL = "worker_model"
MODEL_SHADOW = "model_shadow"  # a model every worker runs beside the live one, deciding nothing
CONTROL_KEY = b"model"  # one key: compaction keeps only the latest applied model
SHADOW_KEY = b"shadow"  # one key: the latest shadow, or its switching off (``model`` null)
WORKER_KEY_PREFIX = b"worker:"  # one key per worker: compaction keeps each one's latest report
REPORT_EVERY_S = 10.0
# A report older than this comes from a worker that stopped without saying so (killed, host lost).
SILENT_AFTER_S = 3.5 * REPORT_EVERY_S


def encode_model_applied(model_text: str, version: str, previous_version: str | None, applied_at: float) -> bytes:
    return orjson.dumps({
        "kind": MODEL_APPLIED,
        "version": version,
        "previous_version": previous_version,
        "applied_at": iso_time(applied_at),
        "model": model_text,
    })


def decode_model_applied(raw: bytes) -> dict[str, Any]:
    data = orjson.loads(raw)
    if not isinstance(data, dict) or data.get("kind") != MODEL_APPLIED or not isinstance(data.get("model"), str):
        raise ValueError("not a model_applied record")
    return data


def encode_model_shadow(model_text: str | None, version: str | None, at: float) -> bytes:
    """A shadow put on (``model_text``) or switched off (None) by `leadstream model shadow`."""
    return orjson.dumps({"kind": MODEL_SHADOW, "version": version, "applied_at": iso_time(at), "model": model_text})


@dataclass(frozen=True)
class ShadowModel:
    """The shadow on leads.control: None model when it was switched off."""

    model: ScoringModel | None
    text: str | None
    offset: int
    applied_at: str


def shadow_from(record: Any) -> ShadowModel:
    data = orjson.loads(record.value)
    if not isinstance(data, dict) or data.get("kind") != MODEL_SHADOW:
        raise ValueError("not a model_shadow record")
    text = data.get("model")
    if text is None:
        return ShadowModel(None, None, record.offset, data["applied_at"])
    if not isinstance(text, str):
        raise ValueError("model_shadow: model is not a model file's text")
    model = parse_model(text, source=f"leads.control offset {record.offset} (shadow)")
    return ShadowModel(model, text, record.offset, data["applied_at"])


def is_shadow(record: Any) -> bool:
    return record.key == SHADOW_KEY


@dataclass(frozen=True)
class AppliedModel:
    model: ScoringModel
    text: str
    offset: int  # of its record on leads.control: names the switch, so re-applying a version works
    previous_version: str | None
    applied_at: str


def control_topic_name(config: Settings) -> str:
    return config.topic_prefix + CONTROL


def control_consumer(config: Settings) -> AIOKafkaConsumer:
    # No group: every worker reads every record, and nothing is committed.
    return AIOKafkaConsumer(bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False,
                            client_id=f"{config.app_id}-control", **config.security.client_kwargs())


def applied_from(record: Any) -> AppliedModel:
    data = decode_model_applied(record.value)
    model = parse_model(data["model"], source=f"leads.control offset {record.offset}")
    return AppliedModel(model, data["model"], record.offset, data.get("previous_version"), data["applied_at"])


@dataclass(frozen=True)
class WorkerReport:
    """What one running worker says it scores with (streams/worker/model_report.py)."""

    worker: str  # its advertised URL: unique per worker, the same across its restarts
    host: str
    pid: int
    version: str
    digest: str
    source: str
    applied_offset: int | None  # the leads.control record it switched to, None when it runs its own file
    refused: dict[str, Any] | None  # the last applied model it would not take: {offset, version, reason}
    reported_at: float
    # The model file's text, so that `model apply` can check a candidate against what actually runs
    # (a half-life change needs a replay) before it publishes anything. None in older reports.
    model_text: str | None = None
    # The shadow it runs beside the live model: {version, digest, offset}; None when it runs none.
    shadow: dict[str, Any] | None = None

    def silent(self, now: float) -> bool:
        return now - self.reported_at > SILENT_AFTER_S


def encode_worker_report(report: WorkerReport) -> bytes:
    return orjson.dumps({"kind": WORKER_MODEL, **{name: getattr(report, name) for name in WorkerReport.__annotations__
                                                   if name != "reported_at"},
                         "reported_at": iso_time(report.reported_at)})


def worker_key(worker: str) -> bytes:
    return WORKER_KEY_PREFIX + worker.encode("utf-8")


def worker_report_from(raw: bytes) -> WorkerReport:
    data = orjson.loads(raw)
    if not isinstance(data, dict) or data.get("kind") != WORKER_MODEL:
        raise ValueError("not a worker_model record")
    fields = {name: data.get(name) for name in WorkerReport.__annotations__ if name in data}
    fields["reported_at"] = datetime.fromisoformat(data["reported_at"]).timestamp()
    return WorkerReport(**fields)


@dataclass
class ControlState:
    """leads.control read to its end: the applied model, each worker's latest report, the offset after."""

    applied: AppliedModel | None = None
    shadow: ShadowModel | None = None  # the latest shadow record (its model None: switched off)
    workers: dict[str, WorkerReport] = field(default_factory=dict)
    end: int = 0

    def running(self, now: float) -> list[WorkerReport]:
        """The workers whose last report is recent, by URL."""
        return sorted((r for r in self.workers.values() if not r.silent(now)), key=lambda r: r.worker)

    def take(self, record: Any) -> None:
        key = record.key or b""
        try:
            if key.startswith(WORKER_KEY_PREFIX):
                name = key[len(WORKER_KEY_PREFIX):].decode("utf-8", "replace")
                if record.value is None:
                    self.workers.pop(name, None)  # it stopped and said so
                else:
                    self.workers[name] = worker_report_from(record.value)
            elif key == SHADOW_KEY:
                if record.value is not None:
                    self.shadow = shadow_from(record)
            elif record.value is not None:
                self.applied = applied_from(record)
        except (ValueError, KeyError, TypeError, ModelError) as exc:
            log.error("leads.control offset %d is not a record I can use: %s", record.offset, exc)


def is_worker_report(record: Any) -> bool:
    return bool(record.key) and record.key.startswith(WORKER_KEY_PREFIX)


async def latest_applied(config: Settings) -> tuple[AppliedModel | None, int]:
    """The latest valid model on leads.control (None if none was ever applied), and the offset after it."""
    state = await read_control(config)
    return state.applied, state.end


async def read_control(config: Settings) -> ControlState:
    """leads.control read whole: the latest applied model and every worker's latest report."""
    consumer = control_consumer(config)
    await consumer.start()
    state = ControlState()
    try:
        if control_topic_name(config) not in await consumer.topics():
            return state  # no worker of this version has run on the cluster yet: nothing was applied
        partition = TopicPartition(control_topic_name(config), 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        state.end = (await consumer.end_offsets([partition]))[partition]
        while await consumer.position(partition) < state.end:
            for record in (await consumer.getmany(partition, timeout_ms=1000)).get(partition, []):
                state.take(record)
        return state
    finally:
        await consumer.stop()
