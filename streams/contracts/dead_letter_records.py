"""The leads.events.dlq records: what could not be read, with why and the original bytes.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

import base64

import orjson

from streams.contracts.encoding import iso_time


# A record the worker wrote and Kafka refused as too large (never one it read): its source is the
# topic it was meant for, with offset -1, and it is not re-driven.
RECORD_TOO_LARGE = "record_too_large"
UNWRITTEN_OFFSET = -1

# Kafka takes records up to 1 MB, and base64 makes bytes a third longer: a dead letter keeps at
# most this much of the original (a 900 KB record could otherwise never be dead-lettered at all).
DEAD_LETTER_MAX_VALUE_BYTES = 256 * 1024


def encode_dead_letter(
    reason: str, detail: str, key: bytes | None, value: bytes | None,
    topic: str, partition: int, offset: int, timestamp: float, dead_lettered_at: float,
) -> bytes:
    kept = value[:DEAD_LETTER_MAX_VALUE_BYTES] if value is not None else None
    return orjson.dumps({
        "reason": reason,
        "detail": detail[:500],
        "source": {"topic": topic, "partition": partition, "offset": offset, "timestamp": iso_time(timestamp)},
        "key_base64": base64.b64encode(key[:DEAD_LETTER_MAX_VALUE_BYTES]).decode() if key is not None else None,
        "value_base64": base64.b64encode(kept).decode() if kept is not None else None,
        "value_bytes": len(value) if value is not None else 0,
        "value_truncated": kept is not None and len(kept) < len(value),
        "dead_lettered_at": iso_time(dead_lettered_at),
    })
