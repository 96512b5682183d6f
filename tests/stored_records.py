"""Stored table records as plain data: what a decoded record says, comparable whatever code decoded it.

A record decoded by an older release (frozen dataclasses) and by this one (msgspec Structs)
gives the same plain form when both read the same thing: records by field name, enum members
by value, sets sorted (their order depends on the process's hash seed), mappings as dicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence, Set
from enum import Enum
from typing import Any


def plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    fields = getattr(type(value), "__struct_fields__", None)
    if fields is None and dataclasses.is_dataclass(value):
        fields = tuple(field.name for field in dataclasses.fields(value))
    if fields is not None:
        return {"type": type(value).__name__, **{name: plain(getattr(value, name)) for name in fields}}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Set):
        return sorted((plain(item) for item in value), key=repr)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [plain(item) for item in value]
    raise TypeError(f"no plain form for {type(value).__name__}")


# Fields added to records after the examples were captured, with the value an older record reads as.
ADDED_SINCE_CAPTURE = {"LeadState": {"grade": None}, "QualificationChange": {"grade": None}}


def as_read_now(captured: Any) -> Any:
    """A captured plain form with the fields added since, as this release reads an old record: unset."""
    if isinstance(captured, list):
        return [as_read_now(item) for item in captured]
    if not isinstance(captured, dict):
        return captured
    added = ADDED_SINCE_CAPTURE.get(captured.get("type"), {})  # type: ignore[arg-type]
    return {**{key: as_read_now(item) for key, item in captured.items()}, **added}
