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
    Contribution, LeadState, QualificationChange, Scores, Signal, SignalKind, Stage, Status, Temperature, VisitorState,
)
from scoring.accounts import AccountChange, AccountState, Member
from scoring.changes import change_id
from scoring.criteria import Answer
from scoring.history import History, Move, Occurrence
from scoring.profile import Fact
from scoring.qualification import Levels
from scoring.state import KindTally

QUALIFICATION_CHANGE = "qualification_change"


def iso_time(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def _rounded(value: float) -> float:
    return round(value, 4)


# --- leads.signals: validated events keyed by lead id ------------------------------------

def signal_to_dict(signal: Signal) -> dict[str, Any]:
    return {
        "event_id": signal.event_id,
        "lead_id": signal.lead_id,
        "anonymous": signal.anonymous,
        "signal": signal.kind.value if signal.kind else None,
        "occurred_at": signal.occurred_at,
        "profile": dict(signal.profile),
        "answers": {criterion: status.value for criterion, status in signal.answers.items()},
    }


def signal_from_dict(data: dict[str, Any]) -> Signal:
    return Signal(
        event_id=data["event_id"],
        lead_id=data["lead_id"],
        anonymous=data["anonymous"],
        kind=SignalKind(data["signal"]) if data["signal"] else None,
        occurred_at=data["occurred_at"],
        profile=MappingProxyType(data["profile"]),
        answers=MappingProxyType({criterion: Status(status) for criterion, status in data["answers"].items()}),
    )


def encode_signal(signal: Signal, ingested_at: float) -> bytes:
    """An anonymous signal's lead id is its visitor id: keyed by it, it reaches the visitor's partition."""
    return orjson.dumps({**signal_to_dict(signal), "ingested_at": ingested_at})


def decode_signal(raw: bytes) -> tuple[Signal, float]:
    """Returns the signal and its ingest time. Our own topic: a failure here is a bug, not bad input."""
    data = orjson.loads(raw)
    return signal_from_dict(data), data["ingested_at"]


# --- the visitors table: one anonymous visitor's held history, or its lead ------------------

def encode_visitor(state: VisitorState) -> bytes:
    return orjson.dumps({
        "last_seen": state.last_seen,
        "lead_id": state.lead_id,
        "held": [signal_to_dict(signal) for signal in state.held],
    })


def decode_visitor(visitor_id: str, raw: bytes) -> VisitorState:
    data = orjson.loads(raw)
    return VisitorState(
        visitor_id=visitor_id,
        lead_id=data["lead_id"],
        held=tuple(signal_from_dict(signal) for signal in data["held"]),
        last_seen=data["last_seen"],
    )


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
            "total": _rounded(change.scores.total),
            "interest": _rounded(change.scores.interest),
            "intent": _rounded(change.scores.intent),
            "negative": _rounded(change.scores.negative),
            "product": _rounded(change.scores.product),
            "fit": _rounded(change.scores.fit),
        },
        "reasons": [
            {"signal": c.kind.value, "points_now": _rounded(c.points_now), "last_at": iso_time(c.last_at),
             "count": c.count}
            for c in change.reasons
        ],
        "fit_reasons": [{"match": what, "points": points} for what, points in change.fit_reasons],
        "framework": change.framework,
        "criteria": {criterion: status.value for criterion, status in change.criteria.items()},
        "disqualified_by": list(change.disqualified_by),
        "model_version": change.model_version,
        "cause": {"type": change.cause, "event_id": change.cause_event_id,
                  **({"crossing_time": iso_time(change.event_time)} if change.cause == "decay" else {})},
        "event_time": iso_time(change.event_time),
        "ingested_at": iso_time(ingested_at) if ingested_at is not None else None,
        "emitted_at": iso_time(emitted_at),
    }


def encode_change(change: QualificationChange, emitted_at: float, ingested_at: float | None) -> bytes:
    return orjson.dumps(change_to_dict(change, emitted_at, ingested_at))


# --- leads.events.dlq: what could not be read, with why and the original bytes -----------

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
        "scores": [change.scores.interest, change.scores.intent, change.scores.negative, change.scores.product,
                   change.scores.fit],
        "reasons": [[c.kind.value, c.points_now, c.last_at, c.count] for c in change.reasons],
        "fit": [list(reason) for reason in change.fit_reasons],
        "framework": change.framework,
        "criteria": {criterion: status.value for criterion, status in change.criteria.items()},
        "disqualified_by": list(change.disqualified_by),
        "model": change.model_version, "cause": change.cause_event_id, "at": change.event_time,
        "cause_type": change.cause,
    }


def _change_from_state(lead_id: str, data: dict[str, Any]) -> QualificationChange:
    interest, intent, negative, product, fit = data["scores"]
    return QualificationChange(
        change_id=data["id"], lead_id=lead_id, sequence=data["seq"], account=data["account"],
        from_stage=Stage(data["from"][0]), from_temperature=Temperature(data["from"][1]),
        to_stage=Stage(data["to"][0]), to_temperature=Temperature(data["to"][1]),
        scores=Scores(interest=interest, intent=intent, negative=negative, product=product, fit=fit),
        reasons=tuple(Contribution(SignalKind(k), p, t, n) for k, p, t, n in data["reasons"]),
        fit_reasons=tuple((what, points) for what, points in data["fit"]),
        framework=data["framework"],
        criteria=MappingProxyType({criterion: Status(status) for criterion, status in data["criteria"].items()}),
        disqualified_by=tuple(data["disqualified_by"]),
        model_version=data["model"], cause_event_id=data["cause"], event_time=data["at"],
        cause=data.get("cause_type", "event"),
    )


def encode_state(state: LeadState) -> bytes:
    return orjson.dumps({
        "identified": state.identified,
        "as_of": state.as_of,
        "tallies": {kind.value: [t.decayed, t.count, t.last_at] for kind, t in state.tallies.items()},
        "profile": {field: [fact.value, fact.stated_at] for field, fact in state.profile.items()},
        "answers": {criterion: [a.status.value, a.stated_at] for criterion, a in state.answers.items()},
        "levels": [state.levels.mql, state.levels.sql, state.levels.pql, state.levels.warm],
        "stage": state.stage.value,
        "temperature": state.temperature.value,
        "rejected_at": state.rejected_at,
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
        profile=MappingProxyType({field: Fact(value, at) for field, (value, at) in data["profile"].items()}),
        answers=MappingProxyType({c: Answer(Status(status), at) for c, (status, at) in data["answers"].items()}),
        levels=Levels(*data["levels"]),
        stage=Stage(data["stage"]),
        temperature=Temperature(data["temperature"]),
        rejected_at=data.get("rejected_at"),
        sequence=data["sequence"],
        recent_event_ids=_unpack_hashes(data["recent_ids"]),
        recent_changes=tuple((h, _change_from_state(lead_id, c)) for h, c in data["recent_changes"]),
    )


# --- commands on leads.signals: work that must run on the partition owning the lead --------

ERASE = "erase"
FEEDBACK = "feedback"
DECAY = "decay"
# Identity stitching (keyed by the visitor id, except release, keyed by the lead id):
STITCH = "stitch"  # identify linked visitor_id to lead_id: release what the visitor's partition holds
RELEASE = "release"  # the held history, scored for lead_id on its partition, once
EXPIRE = "expire"  # the visitor looked expired to the expiry timer: forget it if it still is


def encode_command(command: str, lead_id: str | None, issued_at: float, **details: Any) -> bytes:
    return orjson.dumps({"command": command, "lead_id": lead_id, "issued_at": issued_at, **details})


def encode_release(lead_id: str, visitor_id: str, release_id: str, signals: tuple[Signal, ...],
                   issued_at: float) -> bytes:
    return encode_command(RELEASE, lead_id, issued_at, visitor_id=visitor_id, release_id=release_id,
                          signals=[signal_to_dict(signal) for signal in signals])


def is_command(raw: bytes) -> bool:
    return raw.startswith(b'{"command":')


# --- erasure -------------------------------------------------------------------------------

def erasure_summary(state: LeadState | None, erased_at: float) -> dict[str, Any]:
    """What an erasure removed, without repeating any of it."""
    return {
        "erased_at": iso_time(erased_at),
        "lead_state": state is not None,
        "events_counted": sum(t.count for t in state.tallies.values()) if state else 0,
        "signal_kinds": len(state.tallies) if state else 0,
        "profile_fields": sorted(state.profile) if state else [],
        "criteria_answers": len(state.answers) if state else 0,
        # Held anonymous history is released to the lead on identify, so none is held for a lead.
        "held_anonymous_events": 0,
    }


def encode_erasure_event(lead_id: str, summary: dict[str, Any]) -> bytes:
    return orjson.dumps({
        "kind": "lead_erased",
        "change_id": change_id(lead_id, "erasure"),
        "lead_id": lead_id,
        "erased_at": summary["erased_at"],
    })


# --- leads.feedback: sales verdicts, kept for calibration ----------------------------------

def encode_feedback_event(lead_id: str, feedback: dict[str, Any], state: LeadState | None) -> bytes:
    return orjson.dumps({
        "kind": "sales_feedback",
        "feedback_id": feedback["feedback_id"],
        "lead_id": lead_id,
        "verdict": feedback["verdict"],
        "reason": feedback.get("reason"),
        "by": feedback.get("by"),
        "at": iso_time(feedback["issued_at"]),
        "stage": state.stage.value if state else None,
        "temperature": state.temperature.value if state else None,
    })


# --- accounts: members keyed by company domain, account changes downstream --------------

def encode_member(domain: str, lead_id: str, member: Member | None) -> bytes:
    body: dict[str, Any] = {"domain": domain, "lead_id": lead_id, "left": member is None}
    if member is not None:
        body.update(interest=member.interest, intent=member.intent, as_of=member.as_of, role=member.role,
                    criteria_met=sorted(member.criteria_met), cause_event_id=member.cause_event_id)
    return orjson.dumps(body)


def decode_member(raw: bytes) -> tuple[str, str, Member | None]:
    data = orjson.loads(raw)
    if data["left"]:
        return data["domain"], data["lead_id"], None
    return data["domain"], data["lead_id"], Member(
        lead_id=data["lead_id"], interest=data["interest"], intent=data["intent"], as_of=data["as_of"],
        role=data["role"], criteria_met=frozenset(data["criteria_met"]), cause_event_id=data["cause_event_id"],
    )


def encode_account(account: AccountState) -> bytes:
    return orjson.dumps({
        "level": account.level, "sequence": account.sequence,
        "members": {lead: orjson.loads(encode_member(account.domain, lead, m)) for lead, m in account.members.items()},
    })


def decode_account(domain: str, raw: bytes | None) -> AccountState:
    if not raw:
        return AccountState(domain=domain)
    data = orjson.loads(raw)
    members = {lead: decode_member(orjson.dumps(body))[2] for lead, body in data["members"].items()}
    return AccountState(domain=domain, members=MappingProxyType(members), level=data["level"],
                        sequence=data["sequence"])


def encode_account_change(change: AccountChange, model_version: str, emitted_at: float) -> bytes:
    return orjson.dumps({
        "kind": "account_qualification_change",
        "change_id": change.change_id,
        "account": change.domain,
        "sequence": change.sequence,
        "from_temperature": change.from_temperature.value,
        "to_temperature": change.to_temperature.value,
        "score": round(change.view.score, 4),
        "engaged_people": len(change.view.engaged),
        "engaged_leads": list(change.view.engaged),
        "roles": sorted(change.view.roles),
        "criteria_met": sorted(change.view.criteria_met),
        "members": change.members,
        "cause_lead_id": change.cause_lead_id,
        "model_version": model_version,
        "event_time": iso_time(change.event_time),
        "emitted_at": iso_time(emitted_at),
    })


# --- the lead_history table: a lead's recent events and moves, for the board's timeline and chart -----

def encode_history(history: History) -> bytes:
    return orjson.dumps({
        "since": history.since,
        "folded": {kind.value: count for kind, count in history.folded.items()},
        "folded_events": history.folded_events,
        # [time, kind or null] and, only when present, the answers and the profile fields it stated
        "events": [[e.at, e.kind.value if e.kind else None,
                    *([{c: s.value for c, s in e.answers.items()}, list(e.profile_fields)]
                      if e.answers or e.profile_fields else [])]
                   for e in history.events],
        "moves": [[m.at, m.from_stage.value, m.to_stage.value, m.from_temperature.value, m.to_temperature.value,
                   m.cause, m.total] for m in history.moves],
    })


def decode_history(raw: bytes) -> History:
    data = orjson.loads(raw)
    return History(
        since=data["since"],
        folded=MappingProxyType({SignalKind(kind): count for kind, count in data["folded"].items()}),
        folded_events=data["folded_events"],
        events=tuple(
            Occurrence(at=e[0], kind=SignalKind(e[1]) if e[1] else None,
                       answers=MappingProxyType({c: Status(s) for c, s in e[2].items()}) if len(e) > 2 else
                       MappingProxyType({}),
                       profile_fields=tuple(e[3]) if len(e) > 3 else ())
            for e in data["events"]
        ),
        moves=tuple(Move(at=at, from_stage=Stage(fs), to_stage=Stage(ts), from_temperature=Temperature(ft),
                         to_temperature=Temperature(tt), cause=cause, total=total)
                    for at, fs, ts, ft, tt, cause, total in data["moves"]),
    )
