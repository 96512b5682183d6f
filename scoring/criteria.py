"""Explicit qualification criteria (BANT, CHAMP, MEDDIC, GPCTBA/C&I) and the answers that set them.

Answers are kept per criterion name whatever the active framework, so switching frameworks
reads what the lead already told us; the latest answer by event time wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from scoring.profile import Scalar
from scoring.quick_init import quick_init


class Status(str, Enum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Framework:
    name: str
    criteria: tuple[str, ...]
    need: str  # the criterion that says a need is identified (warm needs it)


@quick_init
@dataclass(frozen=True)
class Answer:
    status: Status
    stated_at: float


# An answer starting with one of these words refuses the criterion ("no budget", "not yet").
NEGATIVE_WORDS = frozenset({"no", "n", "false", "0", "none", "never", "not", "nope", "nothing"})
UNDECIDED = frozenset({"unknown", "not sure", "unsure", "maybe", "n/a", "na", "null", "tbd", "tbc",
                       "to be decided", "to be confirmed", "don't know", "dont know", "undecided"})


def status_of(value: Scalar | None) -> Status | None:
    """true/yes/met mean met; false/no/"not yet" not met; unknown/TBD unknown; empty: no answer.

    Any other answer (a budget figure, "this quarter") states the criterion, so it counts as met.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return Status.MET if value else Status.NOT_MET
    if isinstance(value, int | float):
        return Status.MET if value > 0 else Status.NOT_MET
    phrase = re.sub(r"[\s_\-]+", " ", re.sub(r"[^\w\s'/\-]", "", value)).strip().lower()
    if not phrase:
        return None  # an optional field left empty says nothing
    if phrase in UNDECIDED:
        return Status.UNKNOWN
    if phrase == "not met" or phrase.split()[0] in NEGATIVE_WORDS:
        return Status.NOT_MET
    return Status.MET


def answers_from(attributes: Mapping[str, Scalar], answer_fields: Mapping[str, str],
                 known: frozenset[str]) -> dict[str, Status]:
    """Criterion answers an event carries: ``criteria.<name>`` attributes, or mapped form fields."""
    answers: dict[str, Status] = {}
    for name, value in attributes.items():
        if name.startswith("criteria.") and name.removeprefix("criteria.") in known:
            criterion = name.removeprefix("criteria.")
        elif name in answer_fields:
            criterion = answer_fields[name]
        else:
            continue
        status = status_of(value)
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
