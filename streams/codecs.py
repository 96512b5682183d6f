"""Bytes on topics and in tables, to and from the scoring core's typed objects.

Each message kind's shape is documented as JSON Schema in ``schemas/``; tests validate what
these functions write against those schemas.
"""

from __future__ import annotations

import base64
import struct
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import orjson

from scoring import (
    Contact, Contribution, LeadState, QualificationChange, Scores, Signal, SignalKind, Stage,
    Temperature,
)
from scoring.state import KindTally

QUALIFICATION_CHANGE = "qualification_change"


def iso_time(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def _contact_dict(contact: Contact | None) -> dict[str, str] | None:
    if contact is None:
        return None
    return {k: v for k, v in (("email", contact.email), ("name", contact.name),
                              ("company", contact.company), ("title", contact.title)) if v}


def _contact_from(data: dict[str, str] | None) -> Contact | None:
    return Contact(**data) if data else None


# --- leads.signals: validated events keyed by lead id ------------------------------------

def encode_signal(signal: Signal, ingested_at: float) -> bytes:
    return orjson.dumps({
        "event_id": signal.event_id,
        "lead_id": signal.lead_id,
        "anonymous": signal.anonymous,
        "signal": signal.kind.value if signal.kind else None,
        "occurred_at": signal.occurred_at,
        "contact": _contact_dict(signal.contact),
        "ingested_at": ingested_at,
    })


def decode_signal(raw: bytes) -> tuple[Signal, float]:
    """Returns the signal and its ingest time. Our own topic: a failure here is a bug, not bad input."""
    data = orjson.loads(raw)
    signal = Signal(
        event_id=data["event_id"],
        lead_id=data["lead_id"],
        anonymous=data["anonymous"],
        kind=SignalKind(data["signal"]) if data["signal"] else None,
        occurred_at=data["occurred_at"],
        contact=_contact_from(data["contact"]),
    )
    return signal, data["ingested_at"]


# --- leads.qualification: the downstream contract (DESIGN.md §5) -------------------------

def change_to_dict(change: QualificationChange, emitted_at: float, ingested_at: float | None) -> dict[str, Any]:
    return {
        "kind": QUALIFICATION_CHANGE,
        "change_id": change.change_id,
        "lead_id": change.lead_id,
        "sequence": change.sequence,
        "account": change.account,
        "from_stage": change.from_stage.value,
        "to_stage": change.to_stage.value,
        "from_temperature": change.from_temperature.value,
        "to_temperature": change.to_temperature.value,
        "score": {
            "total": round(change.scores.total, 4),
            "interest": round(change.scores.interest, 4),
            "intent": round(change.scores.intent, 4),
        },
        "reasons": [
            {"signal": c.kind.value, "points_now": round(c.points_now, 4), "last_at": iso_time(c.last_at),
             "count": c.count}
            for c in change.reasons
        ],
        "criteria": {},
        "model_version": change.model_version,
        "cause": {"type": "event", "event_id": change.cause_event_id},
        "event_time": iso_time(change.event_time),
        "ingested_at": iso_time(ingested_at) if ingested_at is not None else None,
        "emitted_at": iso_time(emitted_at),
    }


def encode_change(change: QualificationChange, emitted_at: float, ingested_at: float | None) -> bytes:
    return orjson.dumps(change_to_dict(change, emitted_at, ingested_at))


# --- leads.events.dlq: what could not be read, with why and the original bytes -----------

def encode_dead_letter(
    reason: str, detail: str, key: bytes | None, value: bytes | None,
    topic: str, partition: int, offset: int, timestamp: float, dead_lettered_at: float,
) -> bytes:
    return orjson.dumps({
        "reason": reason,
        "detail": detail[:500],
        "source": {"topic": topic, "partition": partition, "offset": offset, "timestamp": iso_time(timestamp)},
        "key_base64": base64.b64encode(key).decode() if key is not None else None,
        "value_base64": base64.b64encode(value).decode() if value is not None else None,
        "dead_lettered_at": iso_time(dead_lettered_at),
    })


# --- the leads table: one lead's state -------------------------------------------------

def _pack_hashes(hashes: tuple[int, ...]) -> str:
    return base64.b64encode(struct.pack(f">{len(hashes)}Q", *hashes)).decode()


def _unpack_hashes(text: str) -> tuple[int, ...]:
    packed = base64.b64decode(text)
    return struct.unpack(f">{len(packed) // 8}Q", packed)


def _change_state(change: QualificationChange) -> dict[str, Any]:
    return {
        "id": change.change_id, "seq": change.sequence, "account": change.account,
        "from": [change.from_stage.value, change.from_temperature.value],
        "to": [change.to_stage.value, change.to_temperature.value],
        "scores": [change.scores.interest, change.scores.intent],
        "reasons": [[c.kind.value, c.points_now, c.last_at, c.count] for c in change.reasons],
        "model": change.model_version, "cause": change.cause_event_id, "at": change.event_time,
    }


def _change_from_state(lead_id: str, data: dict[str, Any]) -> QualificationChange:
    return QualificationChange(
        change_id=data["id"], lead_id=lead_id, sequence=data["seq"], account=data["account"],
        from_stage=Stage(data["from"][0]), from_temperature=Temperature(data["from"][1]),
        to_stage=Stage(data["to"][0]), to_temperature=Temperature(data["to"][1]),
        scores=Scores(interest=data["scores"][0], intent=data["scores"][1]),
        reasons=tuple(Contribution(SignalKind(k), p, t, n) for k, p, t, n in data["reasons"]),
        model_version=data["model"], cause_event_id=data["cause"], event_time=data["at"],
    )


def encode_state(state: LeadState) -> bytes:
    return orjson.dumps({
        "identified": state.identified,
        "as_of": state.as_of,
        "tallies": {kind.value: [t.decayed, t.count, t.last_at] for kind, t in state.tallies.items()},
        "stage": state.stage.value,
        "temperature": state.temperature.value,
        "contact": _contact_dict(state.contact),
        "sequence": state.sequence,
        "recent_ids": _pack_hashes(state.recent_event_ids),
        "recent_changes": [[h, _change_state(c)] for h, c in state.recent_changes],
    })


def decode_state(lead_id: str, raw: bytes) -> LeadState:
    data = orjson.loads(raw)
    return LeadState(
        lead_id=lead_id,
        identified=data["identified"],
        as_of=data["as_of"],
        tallies=MappingProxyType({
            SignalKind(kind): KindTally(decayed=d, count=n, last_at=t)
            for kind, (d, n, t) in data["tallies"].items()
        }),
        stage=Stage(data["stage"]),
        temperature=Temperature(data["temperature"]),
        contact=_contact_from(data["contact"]),
        sequence=data["sequence"],
        recent_event_ids=_unpack_hashes(data["recent_ids"]),
        recent_changes=tuple((h, _change_from_state(lead_id, c)) for h, c in data["recent_changes"]),
    )
