"""Alerts given up on: one JSON line each in a file, and optionally on a Kafka topic.

A line holds the change as it was read, why the alert failed (``rejected`` or
``retries_exhausted``), the sink, the attempts made, the last HTTP status and error, and
when. The file is appended and fsynced before the outcome is recorded in the store, so a
dead letter is never lost; a crash between the two can repeat it (deduplicate by
``change.change_id`` when re-driving).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.alerting.change import Change
from streams.alerting.sinks import Delivery
from streams.contracts.encoding import iso_time
from streams.private_files import open_private


def dead_letter_entry(change: Change, delivery: Delivery, sink: str, at: float) -> dict[str, Any]:
    return {
        "change": dict(change.document),
        "reason": delivery.reason.value if delivery.reason else "failed",
        "sink": sink,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "dead_lettered_at": iso_time(at),
    }


class DeadLetters:
    def __init__(self, path: Path, producer: AIOKafkaProducer | None = None, topic: str | None = None) -> None:
        self.path = path
        self._producer = producer
        self._topic = topic

    async def write(self, change: Change, delivery: Delivery, sink: str, at: float) -> None:
        line = orjson.dumps(dead_letter_entry(change, delivery, sink, at))
        self._append(line + b"\n")
        if self._producer is not None and self._topic is not None:
            await self._producer.send_and_wait(self._topic, line, key=change.lead_id.encode())

    async def forget(self, lead_id: str) -> int:
        """Erasure (a ``lead_erased`` notice): the lead's lines leave the file, its topic records get a tombstone.

        The file is rewritten without them (a new file fsynced, then renamed over the old, so a
        crash leaves one or the other whole); the topic is compacted (``ensure_topic``), so the
        tombstone under the lead's key removes its letters within the compaction bound.
        """
        kept, dropped = [], 0
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                if line.strip() and orjson.loads(line).get("change", {}).get("lead_id") == lead_id:
                    dropped += 1
                else:
                    kept.append(line + b"\n")
        if dropped:
            replacement = self.path.with_name(self.path.name + ".erasing")
            with open_private(replacement, "wb") as file:
                file.writelines(kept)
                file.flush()
                os.fsync(file.fileno())
            os.replace(replacement, self.path)
        if self._producer is not None and self._topic is not None:
            await self._producer.send_and_wait(self._topic, None, key=lead_id.encode())
        return dropped

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open_private(self.path, "ab") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())


def read_dead_letters(path: Path) -> list[dict[str, Any]]:
    """Every entry of a dead-letter file, oldest first (an absent file has none)."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
