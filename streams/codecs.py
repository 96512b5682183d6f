"""Bytes on topics and in tables, to and from the scoring core's typed objects.

Each message kind's shape is documented as JSON Schema in ``schemas/``; tests validate what
these functions write against those schemas.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping, Sequence
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


def held_in_record(raw: bytes, signal: Signal, seen_at: float, max_events: int) -> tuple[bytes | None, int] | None:
    """``scoring.visitors.on_anonymous`` for an unlinked visitor, worked on its record's JSON.

    Holding one more anonymous event is most of a visitor's life, and decoding every held event
    into objects to append one cost more than all the rest of its handling. Returns the new
    record and how many of the oldest held events were dropped, or no record for a duplicate;
    None when the visitor is linked (``on_anonymous`` forwards the signal to its lead). A
    property test holds it equal to ``on_anonymous`` then ``encode_visitor``.
    """
    data = orjson.loads(raw)
    if data["lead_id"] is not None:
        return None
    held = data["held"]
    event_id = signal.event_id
    if any(each["event_id"] == event_id for each in held):
        return None, 0
    held.append(signal_to_dict(signal))
    evicted = max(len(held) - max_events, 0)
    if evicted:
        del held[:evicted]
    data["last_seen"] = max(data["last_seen"], seen_at)
    return orjson.dumps(data), evicted


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
#
# A lead's record is up to three lines: its state's head, the changes it remembers (for
# re-emitting on a redelivery) and its history (``encode_lead``); orjson never writes a raw
# newline, so line breaks separate them. The head is a JSON array led by its format number, its
# parts in a fixed order, its maps flattened to [key, value, ...] runs and each enum member
# written as its code (below): read back with no key lookups and no enum calls, and without the
# names, which were a third of a record's bytes and so of a worker's memory per lead. The changes
# are read only when used (a redelivery, a new change), and written back as the same bytes
# otherwise: most events neither read nor rewrite them. Changelogs still hold states in format 2
# (names, not codes) and in the keyed format before it (one JSON object): decode_state reads all.

STATE_FORMAT = 3

# Format 3 writes an enum member as its place in one of these. Stored records hold the places:
# append a new member at the end; never reorder or remove one.
_KIND_AT = (None, *map(SignalKind, (
    "page_view", "product_view", "pricing_view", "careers_view", "blog_view", "case_study_download",
    "whitepaper_download", "price_list_download", "contact_form", "demo_request", "newsletter_signup",
    "webinar_registered", "webinar_attended", "email_open", "email_click", "email_reply", "survey_answer",
    "trial_signup", "feature_used", "positive_review", "referral", "email_unsubscribe", "email_bounce",
    "email_hard_bounce",
)))
_STAGE_AT = tuple(map(Stage, ("new", "iql", "recycled", "mql", "pql", "sql", "disqualified")))
_TEMPERATURE_AT = tuple(map(Temperature, ("cold", "warm", "hot")))
_STATUS_AT = tuple(map(Status, ("met", "not_met", "unknown")))
_KIND_CODE = {kind: code for code, kind in enumerate(_KIND_AT)}
_STAGE_CODE = {stage: code for code, stage in enumerate(_STAGE_AT)}
_TEMPERATURE_CODE = {temperature: code for code, temperature in enumerate(_TEMPERATURE_AT)}
_STATUS_CODE = {status: code for code, status in enumerate(_STATUS_AT)}
# The stages a lead has reached, by the bit mask format 3 writes them as (bit n: _STAGE_AT[n]).
_REACHED_AT = tuple(frozenset(stage for code, stage in enumerate(_STAGE_AT) if mask >> code & 1)
                    for mask in range(1 << len(_STAGE_AT)))
_REACHED_MASK = {stages: mask for mask, stages in enumerate(_REACHED_AT)}

# Format 2 wrote enum members by name: read only.
_KINDS = {kind.value: kind for kind in SignalKind}
_STAGES = {stage.value: stage for stage in Stage}
_TEMPERATURES = {temperature.value: temperature for temperature in Temperature}
_STATUSES = {status.value: status for status in Status}
# Per positional format: where its kinds, stages, temperatures and statuses are read from.
_MEMBERS_IN = {STATE_FORMAT: (_KIND_AT, _STAGE_AT, _TEMPERATURE_AT, _STATUS_AT),
               2: (_KINDS, _STAGES, _TEMPERATURES, _STATUSES)}


def _pack_hashes(hashes: tuple[int, ...]) -> str:
    return binascii.b2a_base64(struct.pack(f">{len(hashes)}Q", *hashes), newline=False).decode()


def _unpack_hashes(text: str) -> tuple[int, ...]:
    # One unpack of the whole window (struct caches the format): a third of the time of unpacking each id.
    packed = binascii.a2b_base64(text)
    return struct.unpack(">%dQ" % (len(packed) >> 3), packed)


class StoredChanges(Sequence[tuple[int, QualificationChange]]):
    """A state's remembered changes as the table holds them: decoded the first time they are used."""

    __slots__ = ("lead_id", "raw", "written_in", "_decoded")

    def __init__(self, lead_id: str, raw: bytes, written_in: int = STATE_FORMAT) -> None:
        self.lead_id = lead_id
        self.raw = raw
        self.written_in = written_in  # the state format the raw changes are in
        self._decoded: tuple[tuple[int, QualificationChange], ...] | None = None

    def _changes(self) -> tuple[tuple[int, QualificationChange], ...]:
        if self._decoded is None:
            rows = orjson.loads(self.raw)
            if self.written_in == STATE_FORMAT:
                for before, row in zip(rows, rows[1:]):
                    for place in _AS_BEFORE:
                        if row[place] == 0:
                            row[place] = before[place]
            self._decoded = tuple((row[0], _change_from_parts(self.lead_id, row, self.written_in)) for row in rows)
        return self._decoded

    def __getitem__(self, index):  # type: ignore[override]
        return self._changes()[index]

    def __len__(self) -> int:
        return len(self._changes())

    def __iter__(self):  # type: ignore[override]
        return iter(self._changes())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredChanges | tuple):
            return self._changes() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._changes())


def encode_lead(state: LeadState, history: bytes = b"") -> bytes:
    """A lead's table record: its state, then its history (``encode_history``), in one changelog record.

    Three lines: the state's head, its remembered changes (may be empty) and its history (may be
    empty; trailing empty lines are left off). One record, so a crash can never leave the two
    apart; readers of the state alone never decode the history.
    """
    state_bytes = encode_state(state)
    if not history:
        return state_bytes
    return state_bytes + (b"\n" if b"\n" in state_bytes else b"\n\n") + history


def history_of(record: bytes | None) -> bytes:
    """The history line of a lead's table record (``encode_lead``); empty when it has none, or no record."""
    return record.split(b"\n", 2)[2] if record and record.count(b"\n") >= 2 else b""


def encode_state(state: LeadState) -> bytes:
    levels, kind_code, status_code = state.levels, _KIND_CODE, _STATUS_CODE
    head = orjson.dumps([
        STATE_FORMAT, state.model_version, state.identified, state.as_of,
        [part for kind, t in state.tallies.items() for part in (kind_code[kind], t.decayed, t.count, t.last_at)],
        [part for name, fact in state.profile.items() for part in (name, fact.value, fact.stated_at)],
        [part for name, a in state.answers.items() for part in (name, status_code[a.status], a.stated_at)],
        [levels.mql, levels.sql, levels.pql, levels.warm],
        _STAGE_CODE[state.stage], _TEMPERATURE_CODE[state.temperature], state.rejected_at, state.sequence,
        _pack_hashes(state.recent_event_ids), _REACHED_MASK[state.reached],
        _TEMPERATURE_CODE[state.hottest],
    ])
    changes = state.recent_changes
    if isinstance(changes, StoredChanges) and changes.written_in == STATE_FORMAT:
        return head + b"\n" + changes.raw  # as read: nothing to encode
    if not changes:
        return head
    rows = [[hashed, *_change_parts(change)] for hashed, change in changes]
    for later in range(len(rows) - 1, 0, -1):  # from the last, so each compares with the change as it was
        row, before = rows[later], rows[later - 1]
        for place in _AS_BEFORE:
            if row[place] == before[place]:
                row[place] = 0
    return head + b"\n" + orjson.dumps(rows)


def decode_state(lead_id: str, raw: bytes) -> LeadState:
    """The state in a lead's table record (``encode_lead``); its history line, if any, is not read."""
    head, _, rest = raw.partition(b"\n")
    changes = rest.partition(b"\n")[0]
    data = orjson.loads(head)
    if isinstance(data, dict):
        return _decode_keyed_state(lead_id, data)
    if data[0] not in _MEMBERS_IN:
        raise ValueError(f"lead state format {data[0]!r}: this version reads {STATE_FORMAT}, 2 and the keyed one")
    return _decode_positional(lead_id, data, changes)


def _decode_positional(lead_id: str, data: list[Any], changes: bytes) -> LeadState:
    """Formats 2 and 3: the same parts, enum members by name in 2 and by code in 3."""
    (written_in, model_version, identified, as_of, tallies, profile, answers, levels, stage, temperature, rejected_at,
     sequence, recent_ids, reached, hottest) = data
    kind_at, stage_at, temperature_at, status_at = _MEMBERS_IN[written_in]
    return LeadState(
        lead_id=lead_id,
        identified=identified,
        as_of=as_of,
        tallies=MappingProxyType({kind_at[tallies[n]]: KindTally(tallies[n + 1], tallies[n + 2], tallies[n + 3])
                                  for n in range(0, len(tallies), 4)}),
        profile=MappingProxyType({profile[n]: Fact(profile[n + 1], profile[n + 2]) for n in range(0, len(profile), 3)}),
        answers=MappingProxyType({answers[n]: Answer(status_at[answers[n + 1]], answers[n + 2])
                                  for n in range(0, len(answers), 3)}),
        levels=Levels(*levels),
        stage=stage_at[stage],
        temperature=temperature_at[temperature],
        rejected_at=rejected_at,
        sequence=sequence,
        recent_event_ids=_unpack_hashes(recent_ids),
        recent_changes=StoredChanges(lead_id, changes, written_in) if changes else (),
        reached=_REACHED_AT[reached] if written_in == STATE_FORMAT else frozenset(map(stage_at.__getitem__, reached)),
        hottest=temperature_at[hottest],
        model_version=model_version,
    )


def classified_under(version: str | None) -> tuple[bytes, ...]:
    """Marks a stored state starts with exactly when it was last classified under ``version``: one per format read."""
    written = orjson.dumps(version)
    return tuple(b"[%d," % state_format + written + b"," for state_format in (STATE_FORMAT, 2))


# Places in a remembered change's row ([event hash, *_change_parts]) that usually repeat the change
# before it (account, fit reasons, framework, criteria, disqualifiers, model version): written
# as 0, never one of their values, when they do.
_AS_BEFORE = (2, 9, 10, 11, 12, 13)


def _change_parts(change: QualificationChange) -> list[Any]:
    scores, kind_code, stage_code, temperature_code = change.scores, _KIND_CODE, _STAGE_CODE, _TEMPERATURE_CODE
    parts = [
        change.sequence, change.account, stage_code[change.from_stage], temperature_code[change.from_temperature],
        stage_code[change.to_stage], temperature_code[change.to_temperature],
        [scores.interest, scores.intent, scores.negative, scores.product, scores.fit],
        [part for c in change.reasons for part in (kind_code[c.kind], c.points_now, c.last_at, c.count)],
        [part for reason in change.fit_reasons for part in reason],
        change.framework,
        [part for criterion, status in change.criteria.items() for part in (criterion, _STATUS_CODE[status])],
        list(change.disqualified_by), change.model_version, change.cause_event_id, change.event_time, change.cause,
    ]
    # The id is derived from the lead and the causing event: written only by the rare change whose is not.
    if change.change_id != change_id(change.lead_id, change.cause_event_id):
        parts.append(change.change_id)
    return parts


def _change_from_parts(lead_id: str, parts: list[Any], written_in: int = STATE_FORMAT) -> QualificationChange:
    if written_in == STATE_FORMAT:
        written_id = parts[17] if len(parts) > 17 else None
        rest = parts[1:17]
    else:  # format 2 wrote every change's id, second
        written_id, rest = parts[1], parts[2:]
    (sequence, account, from_stage, from_temperature, to_stage, to_temperature, scores, reasons, fit_reasons,
     framework, criteria, disqualified_by, model_version, cause_event_id, event_time, cause) = rest
    kind_at, stage_at, temperature_at, status_at = _MEMBERS_IN[written_in]
    return QualificationChange(
        change_id=change_id(lead_id, cause_event_id) if written_id is None else written_id, lead_id=lead_id,
        sequence=sequence, account=account,
        from_stage=stage_at[from_stage], from_temperature=temperature_at[from_temperature],
        to_stage=stage_at[to_stage], to_temperature=temperature_at[to_temperature],
        scores=Scores(*scores),
        reasons=tuple(Contribution(kind_at[reasons[n]], reasons[n + 1], reasons[n + 2], reasons[n + 3])
                      for n in range(0, len(reasons), 4)),
        fit_reasons=tuple((fit_reasons[n], fit_reasons[n + 1]) for n in range(0, len(fit_reasons), 2)),
        framework=framework,
        criteria=MappingProxyType({criteria[n]: status_at[criteria[n + 1]] for n in range(0, len(criteria), 2)}),
        disqualified_by=tuple(disqualified_by),
        model_version=model_version, cause_event_id=cause_event_id, event_time=event_time, cause=cause,
    )


# The keyed format states were written in before format 2: read only.

def _change_from_keyed_state(lead_id: str, data: dict[str, Any]) -> QualificationChange:
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


def _decode_keyed_state(lead_id: str, data: dict[str, Any]) -> LeadState:
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
        recent_changes=tuple((h, _change_from_keyed_state(lead_id, c)) for h, c in data["recent_changes"]),
        # States written before stage history was kept know only where the lead stands now.
        reached=frozenset(Stage(s) for s in data.get("reached", (data["stage"],))),
        hottest=Temperature(data.get("hottest", data["temperature"])),
        model_version=data.get("model_version"),
    )


# --- commands on leads.signals: work that must run on the partition owning the lead --------

ERASE = "erase"
FEEDBACK = "feedback"
DECAY = "decay"
OUTCOME = "outcome"  # a CRM outcome to join to the lead's stage history (streams/outcome_join.py)
RECLASSIFY = "reclassify"  # re-classify the lead under the newly applied model (streams/rollout.py)
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

def _member_body(domain: str, lead_id: str, member: Member | None) -> dict[str, Any]:
    body: dict[str, Any] = {"domain": domain, "lead_id": lead_id, "left": member is None}
    if member is not None:
        body.update(interest=member.interest, intent=member.intent, as_of=member.as_of, role=member.role,
                    criteria_met=sorted(member.criteria_met), cause_event_id=member.cause_event_id)
    return body


def _member_of(body: dict[str, Any]) -> Member | None:
    if body["left"]:
        return None
    return Member(
        lead_id=body["lead_id"], interest=body["interest"], intent=body["intent"], as_of=body["as_of"],
        role=body["role"], criteria_met=frozenset(body["criteria_met"]), cause_event_id=body["cause_event_id"],
    )


def encode_member_updates(domain: str, updates: Sequence[tuple[str, Member | None]]) -> bytes:
    """One account's member updates from one batch, in the order they were decided."""
    return orjson.dumps({"domain": domain, "members": [_member_body(domain, lead, member) for lead, member in updates]})


def decode_member_updates(raw: bytes) -> tuple[str, list[tuple[str, Member | None]]]:
    data = orjson.loads(raw)
    return data["domain"], [(body["lead_id"], _member_of(body)) for body in data["members"]]


def encode_account(account: AccountState) -> bytes:
    return orjson.dumps({
        "level": account.level, "sequence": account.sequence,
        "members": {lead: _member_body(account.domain, lead, m) for lead, m in account.members.items()},
    })


def decode_account(domain: str, raw: bytes | None) -> AccountState:
    if not raw:
        return AccountState(domain=domain)
    data = orjson.loads(raw)
    members = {lead: _member_of(body) for lead, body in data["members"].items()}
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


# --- a lead's history (the last line of its table record): recent events and moves, for the board -----

def encode_history(history: History) -> bytes:
    # Positional, enum members as codes (see the leads table above); an event is [time, kind], and
    # [time, kind, answers, profile fields] when it stated any; a move is seven parts in a row.
    kind_code = _KIND_CODE
    return orjson.dumps([
        history.since,
        [part for kind, count in history.folded.items() for part in (kind_code[kind], count)],
        history.folded_events,
        [occurrence_parts(e.at, e.kind, e.answers, e.profile_fields) for e in history.events],
        [part for m in history.moves
         for part in move_parts(m.at, m.from_stage, m.to_stage, m.from_temperature, m.to_temperature, m.cause,
                                m.total)],
    ])


def occurrence_parts(at: float, kind: SignalKind | None, answers: Mapping[str, Status],
                     profile_fields: Sequence[str]) -> list[Any]:
    if not (answers or profile_fields):
        return [at, _KIND_CODE[kind]]
    status_code = _STATUS_CODE
    return [at, _KIND_CODE[kind], [part for c, s in answers.items() for part in (c, status_code[s])], profile_fields]


MOVE_PARTS = 7  # a move's parts in a history record, in a row


def move_parts(at: float, from_stage: Stage, to_stage: Stage, from_temperature: Temperature,
               to_temperature: Temperature, cause: str, total: float) -> tuple[Any, ...]:
    return (at, _STAGE_CODE[from_stage], _STAGE_CODE[to_stage], _TEMPERATURE_CODE[from_temperature],
            _TEMPERATURE_CODE[to_temperature], cause, total)


def history_parts(raw: bytes) -> list[Any] | None:
    """A history record as its five positional parts, to add to in place; None for the older keyed format."""
    data = orjson.loads(raw)
    return data if isinstance(data, list) else None


def history_from_parts(parts: list[Any]) -> History:
    since, folded, folded_events, events, moves = parts
    kind_at, status_at, stage_at, temperature_at = _KIND_AT, _STATUS_AT, _STAGE_AT, _TEMPERATURE_AT
    return History(
        since=since,
        folded=MappingProxyType({kind_at[folded[n]]: folded[n + 1] for n in range(0, len(folded), 2)}),
        folded_events=folded_events,
        events=tuple(
            Occurrence(e[0], kind_at[e[1]]) if len(e) == 2 else
            Occurrence(e[0], kind_at[e[1]],
                       MappingProxyType({e[2][n]: status_at[e[2][n + 1]] for n in range(0, len(e[2]), 2)}),
                       tuple(e[3]))
            for e in events
        ),
        moves=tuple(Move(moves[n], stage_at[moves[n + 1]], stage_at[moves[n + 2]], temperature_at[moves[n + 3]],
                         temperature_at[moves[n + 4]], moves[n + 5], moves[n + 6]) for n in range(0, len(moves), 7)),
    )


def encode_history_parts(parts: list[Any]) -> bytes:
    return orjson.dumps(parts)


def decode_history(raw: bytes) -> History:
    data = orjson.loads(raw)
    return _decode_keyed_history(data) if isinstance(data, dict) else history_from_parts(data)


_NO_ANSWERS: MappingProxyType = MappingProxyType({})


def _decode_keyed_history(data: dict[str, Any]) -> History:
    """A history as written with the format 2 state: one keyed JSON object, enum members by name."""
    return History(
        since=data["since"],
        folded=MappingProxyType({_KINDS[kind]: count for kind, count in data["folded"].items()}),
        folded_events=data["folded_events"],
        events=tuple(
            Occurrence(e[0], _KINDS[e[1]] if e[1] else None) if len(e) == 2 else
            Occurrence(e[0], _KINDS[e[1]] if e[1] else None,
                       MappingProxyType({c: _STATUSES[s] for c, s in e[2].items()}) if len(e) > 2 else _NO_ANSWERS,
                       tuple(e[3]) if len(e) > 3 else ())
            for e in data["events"]
        ),
        moves=tuple(Move(at, _STAGES[fs], _STAGES[ts], _TEMPERATURES[ft], _TEMPERATURES[tt], cause, total)
                    for at, fs, ts, ft, tt, cause, total in data["moves"]),
    )


# --- leads.control: the applied scoring model ----------------------------------------------

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
