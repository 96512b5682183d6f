"""The leads.control contract: the applied scoring model's record, and reading back the latest one.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from scoring import ModelError, ScoringModel, parse_model
from streams.config.environment import Settings
from streams.contracts.encoding import iso_time
from streams.contracts.topics import CONTROL

log = logging.getLogger(__name__)


MODEL_APPLIED = "model_applied"
CONTROL_KEY = b"model"  # one key: compaction keeps only the latest applied model


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


async def latest_applied(config: Settings) -> tuple[AppliedModel | None, int]:
    """The latest valid model on leads.control (None if none was ever applied), and the offset after it."""
    consumer = control_consumer(config)
    await consumer.start()
    try:
        if control_topic_name(config) not in await consumer.topics():
            return None, 0  # no worker of this version has run on the cluster yet: nothing was applied
        partition = TopicPartition(control_topic_name(config), 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        latest = None
        while await consumer.position(partition) < end:
            for record in (await consumer.getmany(partition, timeout_ms=1000)).get(partition, []):
                try:
                    latest = applied_from(record)
                except (ValueError, ModelError) as exc:
                    log.error("leads.control offset %d is not a model I can use: %s", record.offset, exc)
        return latest, end
    finally:
        await consumer.stop()
