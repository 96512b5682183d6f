"""Explicit qualification criteria (BANT, CHAMP, MEDDPICC and its MEDDIC, GPCTBA/C&I) and the answers that set them.

Answers are kept per criterion name whatever the active framework, so switching frameworks
reads what the lead already told us; the latest answer by event time wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from msgspec import Struct

from scoring.answer_reading import AnswerReading, Reading, amount_in, clean
from scoring.profile import Scalar


class Status(str, Enum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Framework:
    name: str
    criteria: tuple[str, ...]
    need: str  # the criterion that says a need is identified (warm needs it)


class Answer(Struct, frozen=True, gc=False, array_like=True):
    status: Status
    stated_at: float


# The structured values every reader understands, whatever the language.
STRUCTURED = MappingProxyType({"met": Status.MET, "not met": Status.NOT_MET, "unknown": Status.UNKNOWN})


def status_of(value: Scalar | None, reading: AnswerReading, criterion: str | None = None,
              at: float | None = None) -> Status | None:
    """Read one answer conservatively; ``at`` (the answer's event time) places "Q3" or "2026".

    Booleans and met / not met / unknown say it outright. Free text is unknown when it hedges
    anywhere ("maybe next year", "TBD - Q3"), not met when it starts with a refusal, met when it
    confirms ("yes", "да", "tak", "kyllä"); otherwise a timeline must parse to a horizon within
    the model's limit, a budget must state an amount (compared with the model's minimum), and
    any other criterion must name something ("slow reporting", "Dana, VP Ops"). An empty field
    says nothing (None).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return Status.MET if value else Status.NOT_MET
    reads_as = reading.reading_of(criterion)
    if isinstance(value, int | float):
        enough = value >= reading.budget_minimum if reads_as is Reading.AMOUNT else True
        return Status.MET if value > 0 and enough else Status.NOT_MET
    phrase = clean(value)
    if not phrase:
        return None  # an optional field left empty says nothing
    if phrase in STRUCTURED:
        return STRUCTURED[phrase]
    if reading.is_uncertain(phrase):
        return Status.UNKNOWN
    if reading.is_refusal(phrase):
        return Status.NOT_MET
    if reading.is_affirmative(phrase):
        return Status.MET
    return _free_text(phrase, reads_as, reading, at)


def _free_text(phrase: str, reads_as: Reading, reading: AnswerReading, at: float | None) -> Status:
    if reads_as is Reading.AMOUNT:
        amount = amount_in(phrase)
        if amount is None:
            return Status.UNKNOWN  # "we have some": not a figure sales can rely on
        return Status.MET if amount > 0 and amount >= reading.budget_minimum else Status.NOT_MET
    if reads_as is Reading.TIME:
        months = reading.horizon_months(phrase, at)
        if months is None:
            return Status.UNKNOWN
        return Status.MET if months <= reading.timeline_within_months else Status.NOT_MET
    # Naming something (two letters in a row, in any script) states a need, a pain, a champion.
    return Status.MET if re.search(r"[^\W\d_]{2}", phrase) else Status.UNKNOWN


def answers_from(attributes: Mapping[str, Scalar], answer_fields: Mapping[str, str],
                 known: frozenset[str], reading: AnswerReading, at: float | None = None) -> dict[str, Status]:
    """Criterion answers an event carries: ``criteria.<name>`` attributes, or mapped form fields."""
    answers: dict[str, Status] = {}
    for name, value in attributes.items():
        if name.startswith("criteria.") and name.removeprefix("criteria.") in known:
            criterion = name.removeprefix("criteria.")
        elif name in answer_fields:
            criterion = answer_fields[name]
        else:
            continue
        status = status_of(value, reading, criterion, at)
        if status is not None:
            answers[criterion] = status
    return answers


def merge_answers(held: Mapping[str, Answer], stated: Mapping[str, Status], at: float) -> Mapping[str, Answer]:
    """A later answer revises an earlier one; equal times resolve by status, not arrival order."""
    if not stated:
        return held
    merged = dict(held)
    for criterion, status in stated.items():
        current = merged.get(criterion)
        if current is None or (at, status.value) > (current.stated_at, current.status.value):
            merged[criterion] = Answer(status, at)
    return MappingProxyType(merged)


def criteria_status(answers: Mapping[str, Answer], framework: Framework) -> Mapping[str, Status]:
    """The framework's criteria in its own order, each met, not met or unknown."""
    return MappingProxyType({
        criterion: answers[criterion].status if criterion in answers else Status.UNKNOWN
        for criterion in framework.criteria
    })
