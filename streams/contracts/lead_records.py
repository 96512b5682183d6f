"""The leads table's records: one lead's state (format-versioned), its history and its links.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import msgspec
import orjson

from scoring import (
    Contribution, LeadState, QualificationChange, Scores, Stage, Status, Temperature,
)
from scoring.changes import change_id
from scoring.criteria import Answer
from scoring.profile import Fact
from scoring.qualification import Levels
from scoring.state import Journal, KindTally
from streams.contracts import journal_records, record_frame, stored_lead
from streams.contracts.member_codes import (
    KIND_AT, KIND_CODE, KINDS, REACHED_AT, STAGE_AT, STAGE_CODE, STAGES, STATUS_AT, STATUS_CODE, STATUSES,
    TEMPERATURE_AT, TEMPERATURE_CODE, TEMPERATURES,
)


#
# A lead's record holds four parts: its state's head, the changes it remembers (for re-emitting on
# a redelivery), its history and its links (``encode_lead``). Since format 5 it is the byte 5, then
# one MessagePack array of the four (``record_frame``; nil for an absent part): the head is a
# ``stored_lead.StoredLead``, decoded straight into the state's records by msgspec. The changes
# are read only when used (a redelivery, a new change), and written back as the same bytes
# otherwise: most events neither read nor rewrite them. Earlier formats were JSON, one line per
# part, the head an array led by its format number with its maps flattened to [key, value, ...]
# runs and enum members as codes; changelogs still hold states in formats 4, 3 and 2 (names, not
# codes) and in the keyed format before them (one JSON object): decode_state reads all, and the
# next write of such a lead is in format 5.

STATE_FORMAT = 5
# Format 4 added what sales said and how long it holds (accepted_at, sql_ended_at, active_at, the
# signals since a rejection), the flagged address, needs_enrichment and the hot interest rung's level,
# and (optional, trailing) the due time of the latest revisit, then the lead's stage history and its
# journal (``journal_records``); format 3 is the same without them. Formats 3 to 5 share the member codes.
# A remembered change's row ends with its grade (after the change id's place, null when derived); format 5's
# head ends with the grade the lead holds (``stored_lead``).
# A record without the trailing parts reads them as unset.
_CODED = frozenset({3, 4, STATE_FORMAT})
_FRAME = bytes([STATE_FORMAT])
_PARTS = msgspec.msgpack.Decoder(tuple[stored_lead.StoredLead, msgspec.Raw, msgspec.Raw, msgspec.Raw])
_RAW_PARTS = msgspec.msgpack.Decoder(tuple[msgspec.Raw, msgspec.Raw, msgspec.Raw, msgspec.Raw])

# Per positional format: where its kinds, stages, temperatures and statuses are read from.
_MEMBERS_IN = {STATE_FORMAT: (KIND_AT, STAGE_AT, TEMPERATURE_AT, STATUS_AT),  # its remembered changes
               4: (KIND_AT, STAGE_AT, TEMPERATURE_AT, STATUS_AT),
               3: (KIND_AT, STAGE_AT, TEMPERATURE_AT, STATUS_AT),
               2: (KINDS, STAGES, TEMPERATURES, STATUSES)}


def _unpack_hashes(packed: bytes | str) -> tuple[int, ...]:
    # One unpack of the whole window (struct caches the format): a third of the time of unpacking each id.
    if type(packed) is str:  # format 4 and before: base64 in JSON
        packed = binascii.a2b_base64(packed)
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
            rows = record_frame.loads(self.raw)
            if self.written_in in _CODED:
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


def encode_lead(state: LeadState, history: bytes = b"", links: bytes = b"") -> bytes:
    """A lead's table record: its state, then its history (``encode_history``), in one changelog record.

    Four parts: the state's head, its remembered changes, its history and its links
    (``encode_links``: what erasure must reach elsewhere), each nil when empty; a history or links
    part read from an older JSON record is carried over in MessagePack. One record, so a crash can
    never leave them apart; readers of the state alone never decode the rest.
    """
    return _FRAME + record_frame.ENCODER.encode(
        [stored_lead.stored(state), _changes_part(state.recent_changes), record_frame.raw_part(history),
         record_frame.raw_part(links)])


def _parts_of(record: bytes | None, place: int) -> bytes:
    """Part ``place`` of a lead's record (1 changes, 2 history, 3 links), as written; empty when it has none."""
    if not record:
        return b""
    if record[:1] == _FRAME:
        return record_frame.part_bytes(_RAW_PARTS.decode(memoryview(record)[1:])[place])
    if record.count(b"\n") < place:  # a JSON record (format 4 and before): one line per part
        return b""
    return record.split(b"\n", 3)[place]


def history_of(record: bytes | None) -> bytes:
    """The history part of a lead's table record (``encode_lead``); empty when it has none, or no record."""
    return _parts_of(record, 2)


def links_of(record: bytes | None) -> bytes:
    """The links part of a lead's table record, as written; empty when it has none."""
    return _parts_of(record, 3)


# A lead remembers at most this many of each (the oldest make way): its visitors expire by their
# own TTL anyway, and verdicts beyond it leave leads.feedback by its retention (docs/privacy.md).
MAX_LINKS = 100


def encode_links(visitors: Sequence[str], feedback: Sequence[str]) -> bytes:
    """The visitor ids linked to the lead and its feedback ids: what its erasure must find elsewhere."""
    if not visitors and not feedback:
        return b""
    return record_frame.ENCODER.encode(
        {"visitors": list(visitors)[-MAX_LINKS:], "feedback": list(feedback)[-MAX_LINKS:]})


def decode_links(line: bytes) -> tuple[list[str], list[str]]:
    if not line:
        return [], []
    data = record_frame.loads(line)
    return list(data["visitors"]), list(data["feedback"])


def encode_state(state: LeadState) -> bytes:
    """The state alone, as a lead's record without history or links."""
    return encode_lead(state)


def _changes_part(changes: Sequence[tuple[int, QualificationChange]]) -> msgspec.Raw | list[Any] | None:
    if isinstance(changes, StoredChanges) and changes.written_in == STATE_FORMAT:
        return msgspec.Raw(changes.raw)  # as read: nothing to encode
    if not changes:
        return None
    rows = [[hashed, *_change_parts(change)] for hashed, change in changes]
    for later in range(len(rows) - 1, 0, -1):  # from the last, so each compares with the change as it was
        row, before = rows[later], rows[later - 1]
        for place in _AS_BEFORE:
            if row[place] == before[place]:
                row[place] = 0
    return rows


def _journal_from(lead_id: str, parts: list[Any] | None) -> Journal | None:
    if parts is None:
        return None
    base, middle, serials, inputs = parts
    return Journal(_decode_positional(lead_id, base, b""),
                   tuple(journal_records.input_from(lead_id, item) for item in inputs),
                   None if middle is None else _decode_positional(lead_id, middle, b""), serials)


def decode_state(lead_id: str, raw: bytes) -> LeadState:
    """The state in a lead's table record (``encode_lead``); its history, if any, is not read."""
    if raw[:1] == _FRAME:
        head, changes, _, _ = _PARTS.decode(memoryview(raw)[1:])
        return stored_lead.lead_from(lead_id, head, StoredChanges(lead_id, bytes(changes)) if changes != record_frame.NIL else ())
    if not record_frame.is_json(raw):
        raise ValueError(f"lead state format {raw[0]!r}: this version reads {STATE_FORMAT}, 4, 3, 2 and the keyed one")
    head, _, rest = raw.partition(b"\n")
    changes = rest.partition(b"\n")[0]
    data = orjson.loads(head)
    if isinstance(data, dict):
        return _decode_keyed_state(lead_id, data)
    if data[0] not in _MEMBERS_IN:
        raise ValueError(f"lead state format {data[0]!r}: this version reads {STATE_FORMAT}, 4, 3, 2 and the keyed one")
    return _decode_positional(lead_id, data, changes)


def _decode_positional(lead_id: str, data: list[Any], changes: bytes) -> LeadState:
    """Formats 2 to 5: the same parts, enum members by name in 2 and by code after; 4 adds what sales said."""
    (written_in, model_version, identified, as_of, tallies, profile, answers, levels, stage, temperature, rejected_at,
     sequence, recent_ids, reached, hottest) = data[:15]
    # A lead stored before format 4 held no acceptance (it is re-derived from its events from now on).
    accepted_at, sql_ended_at, active_at, renewed, flagged_at, needs_enrichment = (
        data[15:21] if written_in >= 4 else (None, None, as_of, [], None, False))
    # The last revisit's due time came after format 4 began: a state written before it has none.
    revisited_at = data[21] if written_in >= 4 and len(data) > 21 else None
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
        reached=REACHED_AT[reached] if written_in in _CODED else frozenset(map(stage_at.__getitem__, reached)),
        hottest=temperature_at[hottest],
        model_version=model_version,
        accepted_at=accepted_at, sql_ended_at=sql_ended_at, active_at=active_at,
        renewed=MappingProxyType({kind_at[renewed[n]]: renewed[n + 1] for n in range(0, len(renewed), 2)}),
        flagged_at=flagged_at, needs_enrichment=needs_enrichment, revisited_at=revisited_at,
        path=journal_records.path_from(data[22]) if len(data) > 22 else (),
        journal=_journal_from(lead_id, data[23]) if len(data) > 23 else None,
        # A lead stored before grades holds none: graded afresh (no hysteresis to keep) at its next input.
        grade=data[24] if len(data) > 24 else None,
    )


def classified_under(version: str | None) -> tuple[bytes, ...]:
    """Marks a stored state starts with exactly when it was last classified under ``version``: one per format read."""
    written = orjson.dumps(version)
    # A framed record: the format byte, its four parts, then the head (an array of StoredLead's fields), led by it.
    framed = _FRAME + b"\x94\xdc" + len(stored_lead.StoredLead.__struct_fields__).to_bytes(2, "big") + \
        record_frame.ENCODER.encode(version)
    return (framed, *(b"[%d," % state_format + written + b"," for state_format in (4, 3, 2)))


# Places in a remembered change's row ([event hash, *_change_parts]) that usually repeat the change
# before it (account, fit reasons, framework, criteria, disqualifiers, model version): written
# as 0, never one of their values, when they do.
_AS_BEFORE = (2, 9, 10, 11, 12, 13)


def _change_parts(change: QualificationChange) -> list[Any]:
    scores, kind_code, stage_code, temperature_code = change.scores, KIND_CODE, STAGE_CODE, TEMPERATURE_CODE
    parts = [
        change.sequence, change.account, stage_code[change.from_stage], temperature_code[change.from_temperature],
        stage_code[change.to_stage], temperature_code[change.to_temperature],
        [scores.interest, scores.intent, scores.negative, scores.product, scores.fit],
        [part for c in change.reasons for part in (kind_code.get(c.kind, c.kind), c.points_now, c.last_at, c.count)],
        [part for reason in change.fit_reasons for part in reason],
        change.framework,
        [part for criterion, status in change.criteria.items() for part in (criterion, STATUS_CODE[status])],
        list(change.disqualified_by), change.model_version, change.cause_event_id, change.event_time, change.cause,
        change.cause_detail, change.needs_enrichment,
    ]
    # The id is derived from the lead and the causing event: written only by the rare change whose is not.
    derived_id = change.change_id == change_id(change.lead_id, change.cause_event_id)
    if not derived_id or change.grade is not None:
        parts.append(None if derived_id else change.change_id)
    if change.grade is not None:
        parts.append(change.grade)
    return parts


def _change_from_parts(lead_id: str, parts: list[Any], written_in: int = STATE_FORMAT) -> QualificationChange:
    detail, needs_enrichment, grade = None, False, None
    if written_in >= 4:
        grade = parts[20] if len(parts) > 20 else None  # a change remembered from before grades has none
        written_id = parts[19] if len(parts) > 19 else None
        rest, (detail, needs_enrichment) = parts[1:17], parts[17:19]
    elif written_in == 3:
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
        cause_detail=detail, needs_enrichment=needs_enrichment, grade=grade,
    )


# The keyed format states were written in before format 2: read only.

def _change_from_keyed_state(lead_id: str, data: dict[str, Any]) -> QualificationChange:
    interest, intent, negative, product, fit = data["scores"]
    return QualificationChange(
        change_id=data["id"], lead_id=lead_id, sequence=data["seq"], account=data["account"],
        from_stage=Stage(data["from"][0]), from_temperature=Temperature(data["from"][1]),
        to_stage=Stage(data["to"][0]), to_temperature=Temperature(data["to"][1]),
        scores=Scores(interest=interest, intent=intent, negative=negative, product=product, fit=fit),
        reasons=tuple(Contribution(k, p, t, n) for k, p, t, n in data["reasons"]),
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
            kind: KindTally(decayed=d, count=n, last_at=t)
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
        active_at=data["as_of"],
    )
