"""A lead's state as format 5 stores it: typed MessagePack that msgspec turns into the state's records in C.

The head of a format 5 lead record (``lead_records``) is a ``StoredLead``: the state's parts in
a fixed order, as a MessagePack array. Its tallies, facts, answers, levels, stage history and
journal inputs are the scoring core's own Structs (array_like: their fields in order, no names),
so decoding builds them without a line of Python per part; what is left is one ``LeadState`` call.
Built-in signal kinds (in tallies), stage and temperature are written as their codes
(``member_codes``), the reached stages as a bit mask and the remembered event ids as packed bytes,
as format 4 wrote them; the journal's signals name their kind (they are decoded whole, in C). The lead id is the
table key, so the head leaves it out; the journal's signals carry it (they are read whole).
Remembered changes are no part of the head: the record keeps them apart, read only when used.
"""

from __future__ import annotations

import struct

import msgspec

from scoring.criteria import Answer
from scoring.kinds import SignalKind
from scoring.profile import Fact
from scoring.qualification import Levels
from scoring.signals import Signal
from scoring.state import Journal, KindTally, LeadState, SalesWord, Step
from streams.contracts.member_codes import (
    KIND_AT, KIND_CODE, REACHED_AT, REACHED_MASK, STAGE_AT, STAGE_CODE, TEMPERATURE_AT, TEMPERATURE_CODE,
)

_KIND_OF: dict[int | SignalKind, SignalKind] = dict(enumerate(KIND_AT))  # type: ignore[arg-type]


class StoredJournal(msgspec.Struct, array_like=True, frozen=True, gc=False):
    base: StoredLead
    middle: StoredLead | None
    serials: int
    inputs: tuple[Signal | SalesWord, ...]


class StoredLead(msgspec.Struct, array_like=True, frozen=True, gc=False):
    model_version: str | None  # first, so which model classified a lead shows in its record's first bytes
    identified: bool
    as_of: float | None
    tallies: dict[int | SignalKind, KindTally]  # built-in kinds by their code (member_codes), as format 4
    profile: dict[str, Fact]
    answers: dict[str, Answer]
    levels: Levels
    stage: int
    temperature: int
    rejected_at: float | None
    sequence: int
    recent_ids: bytes
    reached: int
    hottest: int
    accepted_at: float | None
    sql_ended_at: float | None
    active_at: float | None
    renewed: dict[int | SignalKind, int]
    flagged_at: float | None
    needs_enrichment: bool
    revisited_at: float | None
    path: tuple[Step, ...]
    journal: StoredJournal | None
    grade: str | None = None  # scoring.grade's letter grade: a lead stored before grades holds none


def stored(state: LeadState) -> StoredLead:
    journal = state.journal
    return StoredLead(
        state.model_version, state.identified, state.as_of,
        {KIND_CODE.get(kind, kind): tally for kind, tally in state.tallies.items()}, state.profile, state.answers,  # type: ignore[arg-type]
        state.levels, STAGE_CODE[state.stage], TEMPERATURE_CODE[state.temperature], state.rejected_at, state.sequence,
        struct.pack(f">{len(state.recent_event_ids)}Q", *state.recent_event_ids), REACHED_MASK[state.reached],
        TEMPERATURE_CODE[state.hottest], state.accepted_at, state.sql_ended_at, state.active_at,
        {KIND_CODE.get(kind, kind): count for kind, count in state.renewed.items()}, state.flagged_at,
        state.needs_enrichment, state.revisited_at, state.path,  # type: ignore[arg-type]
        None if journal is None else StoredJournal(
            stored(journal.base), None if journal.middle is None else stored(journal.middle), journal.serials,
            journal.inputs),
        state.grade,
    )


def lead_from(lead_id: str, head: StoredLead, recent_changes=()) -> LeadState:  # type: ignore[no-untyped-def]
    journal = head.journal
    ids = head.recent_ids
    return LeadState(
        lead_id=lead_id, identified=head.identified, as_of=head.as_of,
        tallies={_KIND_OF.get(kind, kind): tally for kind, tally in head.tallies.items()}, profile=head.profile,
        answers=head.answers, levels=head.levels, stage=STAGE_AT[head.stage],
        temperature=TEMPERATURE_AT[head.temperature], rejected_at=head.rejected_at, accepted_at=head.accepted_at,
        sql_ended_at=head.sql_ended_at, active_at=head.active_at,
        renewed={_KIND_OF.get(kind, kind): count for kind, count in head.renewed.items()}, flagged_at=head.flagged_at,
        needs_enrichment=head.needs_enrichment, revisited_at=head.revisited_at, sequence=head.sequence,
        recent_event_ids=struct.unpack(">%dQ" % (len(ids) >> 3), ids), recent_changes=recent_changes,
        reached=REACHED_AT[head.reached], hottest=TEMPERATURE_AT[head.hottest], model_version=head.model_version,
        path=head.path, grade=head.grade,
        journal=None if journal is None else Journal(
            base=lead_from(lead_id, journal.base), inputs=journal.inputs,
            middle=None if journal.middle is None else lead_from(lead_id, journal.middle), serials=journal.serials),
    )
