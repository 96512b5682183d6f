"""Reading leads.events.dlq back: dead letters grouped by reason, and re-driving chosen ones.

A dead letter (streams/worker/pipeline.py ``dead_letter``) keeps why it was refused and the record's
original bytes (client IPs truncated). Once the cause is fixed (a larger event limit, a decoder
bug), ``redrive`` produces those bytes to leads.events.raw again, with their original key; the
worker then treats them like any other event, and one it has scored already is deduplicated.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.config.environment import Settings
from streams.contracts.topics import DEAD_LETTERS, RAW_EVENTS
from streams.failures import missing_topic

SAMPLES_PER_REASON = 3
PREVIEW_BYTES = 120


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    detail: str
    source: dict[str, Any]  # topic, partition, offset, timestamp of the refused record
    key: bytes | None
    value: bytes | None
    dead_lettered_at: str
    truncated: bool = False  # only the start of a huge record was kept: it cannot be re-driven

    @classmethod
    def from_record(cls, raw: bytes) -> DeadLetter:
        letter = orjson.loads(raw)
        return cls(
            reason=letter["reason"], detail=letter.get("detail", ""), source=letter.get("source", {}),
            key=_bytes(letter.get("key_base64")), value=_bytes(letter.get("value_base64")),
            dead_lettered_at=letter.get("dead_lettered_at", ""), truncated=letter.get("value_truncated", False),
        )


@dataclass(frozen=True)
class ReasonSummary:
    reason: str
    count: int
    samples: tuple[DeadLetter, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "samples": [
            {"detail": s.detail, "source": s.source, "dead_lettered_at": s.dead_lettered_at,
             "bytes": len(s.value or b""), "preview": preview(s.value)} for s in self.samples]}


def _bytes(encoded: str | None) -> bytes | None:
    return base64.b64decode(encoded) if encoded is not None else None


def preview(value: bytes | None) -> str:
    if value is None:
        return "(no value)"
    text = value[:PREVIEW_BYTES].decode("utf-8", errors="backslashreplace")
    return text + (f"... ({len(value)} bytes)" if len(value) > PREVIEW_BYTES else "")


def by_reason(letters: Iterable[DeadLetter], samples: int = SAMPLES_PER_REASON) -> list[ReasonSummary]:
    """One summary per reason, the most frequent first, with the first ``samples`` letters of each."""
    grouped: dict[str, list[DeadLetter]] = {}
    for letter in letters:
        grouped.setdefault(letter.reason, []).append(letter)
    return sorted((ReasonSummary(reason, len(group), tuple(group[:samples])) for reason, group in grouped.items()),
                  key=lambda summary: (-summary.count, summary.reason))


def redrivable(letters: Iterable[DeadLetter], reason: str, raw_topic: str, limit: int | None) -> list[DeadLetter]:
    """The oldest ``limit`` letters of ``reason`` that came from the raw topic and still have all their bytes."""
    chosen = [letter for letter in letters if letter.reason == reason and letter.source.get("topic") == raw_topic
              and letter.value is not None and not letter.truncated]
    return chosen if limit is None else chosen[:limit]


async def read_dead_letters(config: Settings) -> list[DeadLetter]:
    """Every dead letter in the topic now, oldest first within each partition."""
    topic = config.topic_prefix + DEAD_LETTERS
    consumer = AIOKafkaConsumer(bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False,
                                client_id=f"{config.app_id}-dlq", **config.security.client_kwargs())
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise missing_topic(topic)
        # The app's topics all have LEADSTREAM_PARTITIONS partitions (the worker checks at start).
        partitions = [TopicPartition(topic, partition) for partition in range(config.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                letters.extend(DeadLetter.from_record(record.value) for record in batch.get(tp, []) if record.value)
        return letters
    finally:
        await consumer.stop()


async def redrive(config: Settings, letters: list[DeadLetter]) -> int:
    """Produce each letter's original bytes to the raw topic again, with its original key."""
    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap_servers, acks="all", enable_idempotence=True,
                                client_id=f"{config.app_id}-dlq", **config.security.client_kwargs())
    await producer.start()
    try:
        deliveries = [await producer.send(raw_topic(config), letter.value, key=letter.key)
                      for letter in letters]
        for delivery in deliveries:
            await delivery
    finally:
        await producer.stop()
    return len(letters)


def raw_topic(config: Settings) -> str:
    return config.topic_prefix + RAW_EVENTS
