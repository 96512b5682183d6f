"""The leads.signals records: validated events keyed by lead (or visitor) id.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson

from scoring import (
    Signal, Status,
)


def signal_to_dict(signal: Signal) -> dict[str, Any]:
    data = {
        "event_id": signal.event_id,
        "lead_id": signal.lead_id,
        "anonymous": signal.anonymous,
        "signal": signal.kind,
        "occurred_at": signal.occurred_at,
        "profile": dict(signal.profile),
        "answers": {criterion: status.value for criterion, status in signal.answers.items()},
    }
    if signal.links_visitor is not None:  # forwarded to the lead's partition, which records the link
        data["links_visitor"] = signal.links_visitor
    return data


def signal_from_dict(data: dict[str, Any]) -> Signal:
    return Signal(
        event_id=data["event_id"],
        lead_id=data["lead_id"],
        anonymous=data["anonymous"],
        kind=data["signal"] or None,
        occurred_at=data["occurred_at"],
        profile=MappingProxyType(data["profile"]),
        answers=MappingProxyType({criterion: Status(status) for criterion, status in data["answers"].items()}),
        links_visitor=data.get("links_visitor"),
    )


def encode_signal(signal: Signal, ingested_at: float) -> bytes:
    """An anonymous signal's lead id is its visitor id: keyed by it, it reaches the visitor's partition."""
    return orjson.dumps({**signal_to_dict(signal), "ingested_at": ingested_at})


def decode_signal(raw: bytes) -> tuple[Signal, float]:
    """Returns the signal and its ingest time. Our own topic: a failure here is a bug, not bad input."""
    data = orjson.loads(raw)
    return signal_from_dict(data), data["ingested_at"]
