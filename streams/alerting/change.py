"""A qualification change as the alerts consumer reads it: decoded once, at the edge, into typed values.

The contract is ``schemas/qualification-change.schema.json``. Decoding checks what alerting
relies on and reports anything else as :class:`UnreadableChange` with a short reason, so one
bad record is logged and counted instead of stopping the consumer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from scoring import Stage, Status, Temperature
from streams.alerting.errors import UnreadableChange

QUALIFICATION_CHANGE = "qualification_change"
# The contract says 32 hex digits; anything that is safe in an HTTP header is accepted, so a
# future id format does not silence every alert. The id travels as the Idempotency-Key.
_SAFE_ID = re.compile(r"^[0-9A-Za-z._:-]{1,128}$")
_GRADE = re.compile(r"^[ABC][123]$")

E = TypeVar("E", Stage, Temperature, Status)


@dataclass(frozen=True)
class Score:
    total: float
    interest: float
    intent: float
    negative: float
    product: float
    fit: float


@dataclass(frozen=True)
class Reason:
    """One of the top contributions: a signal kind and its points after decay to the event time."""

    signal: str
    points_now: float
    last_at: str | None
    count: int


@dataclass(frozen=True)
class Change:
    change_id: str
    lead_id: str
    account: str | None
    from_stage: Stage
    to_stage: Stage
    from_temperature: Temperature
    to_temperature: Temperature
    score: Score
    reasons: tuple[Reason, ...]
    fit_reasons: tuple[tuple[str, float], ...]
    framework: str | None
    criteria: tuple[tuple[str, Status], ...]  # in the framework's order
    disqualified_by: tuple[str, ...]
    model_version: str
    event_time: str | None
    grade: str | None  # fit letter and engagement digit (A1 best); None from a worker that predates grades
    document: Mapping[str, Any] = field(compare=False, repr=False)  # the record as read, for dead letters

    @property
    def disqualified(self) -> bool:
        return self.to_stage is Stage.DISQUALIFIED or bool(self.disqualified_by)


def decode_change(raw: bytes | None) -> Change:
    """The change in ``raw``; raises UnreadableChange saying what is wrong with it."""
    if raw is None:
        raise UnreadableChange("empty", "the record has no value")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UnreadableChange("malformed_json", str(exc)) from None
    if not isinstance(data, dict):
        raise UnreadableChange("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    if data.get("kind", QUALIFICATION_CHANGE) != QUALIFICATION_CHANGE:
        raise UnreadableChange("wrong_kind", f"kind is {data.get('kind')!r}")
    score = _object(data, "score")
    return Change(
        change_id=_id(data),
        lead_id=_text(data, "lead_id"),
        account=_optional_text(data, "account"),
        from_stage=_enum(data, "from_stage", Stage),
        to_stage=_enum(data, "to_stage", Stage),
        from_temperature=_enum(data, "from_temperature", Temperature),
        to_temperature=_enum(data, "to_temperature", Temperature),
        score=Score(**{part: _number(score, part, "score.") for part in
                       ("total", "interest", "intent", "negative", "product", "fit")}),
        reasons=tuple(_reason(item) for item in _list(data, "reasons")),
        fit_reasons=tuple(_fit_reason(item) for item in data.get("fit_reasons") or ()),
        framework=_optional_text(data, "framework"),
        criteria=tuple(
            (str(name), _enum({str(name): status}, str(name), Status, "criteria."))
            for name, status in _object(data, "criteria").items()
        ),
        disqualified_by=tuple(str(why) for why in _list(data, "disqualified_by")),
        model_version=_text(data, "model_version"),
        event_time=_optional_text(data, "event_time"),
        grade=_grade(data),
        document=data,
    )


def _field(data: Mapping[str, Any], name: str, prefix: str = "") -> Any:
    if name not in data:
        raise UnreadableChange("missing_field", f"{prefix}{name} is missing")
    return data[name]


def _invalid(name: str, expected: str, value: Any) -> UnreadableChange:
    return UnreadableChange("invalid_field", f"{name}: expected {expected}, got {str(value)[:80]!r}")


def _checked(data: Mapping[str, Any], name: str, ok: Callable[[Any], bool], expected: str, prefix: str = "") -> Any:
    value = _field(data, name, prefix)
    if not ok(value):
        raise _invalid(prefix + name, expected, value)
    return value


def _id(data: Mapping[str, Any]) -> str:
    return _checked(data, "change_id", lambda v: isinstance(v, str) and bool(_SAFE_ID.match(v)),
                    "an id of letters, digits and ._:- (at most 128)")


def _text(data: Mapping[str, Any], name: str) -> str:
    return _checked(data, name, lambda v: isinstance(v, str) and v != "", "a non-empty string")


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(name, "a string or null", value)
    return value or None


def _grade(data: Mapping[str, Any]) -> str | None:
    value = _optional_text(data, "grade")
    if value is not None and not _GRADE.match(value):
        raise _invalid("grade", "a letter A-C and a digit 1-3 (A1 .. C3)", value)
    return value


def _number(data: Mapping[str, Any], name: str, prefix: str = "") -> float:
    value = _checked(data, name, lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number", prefix)
    return float(value)


def _object(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return _checked(data, name, lambda v: isinstance(v, dict), "an object")


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    return _checked(data, name, lambda v: isinstance(v, list), "an array")


def _enum(data: Mapping[str, Any], name: str, kind: type[E], prefix: str = "") -> E:
    value = _field(data, name, prefix)
    try:
        return kind(value)
    except ValueError:
        raise _invalid(prefix + name, "one of " + ", ".join(member.value for member in kind), value) from None


def _reason(item: Any) -> Reason:
    if not isinstance(item, dict):
        raise _invalid("reasons[]", "an object", item)
    count = _checked(item, "count", lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer",
                     "reasons[].")
    return Reason(signal=_text(item, "signal"), points_now=_number(item, "points_now", "reasons[]."),
                  last_at=_optional_text(item, "last_at"), count=count)


def _fit_reason(item: Any) -> tuple[str, float]:
    if not isinstance(item, dict):
        raise _invalid("fit_reasons[]", "an object", item)
    return _text(item, "match"), _number(item, "points", "fit_reasons[].")
