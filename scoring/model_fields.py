"""A TOML table that remembers its path, so every model-file error names the exact field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from scoring.errors import ModelError
from scoring.kinds import Component

EnumT = TypeVar("EnumT", bound=Component)


class Fields:
    """A TOML table that remembers its path, so errors can name the exact field."""

    def __init__(self, table: Mapping[str, Any], path: str) -> None:
        self.table = table
        self.path = path

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def only(self, *allowed: str) -> None:
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            raise ModelError(
                f"{self.name(unknown[0])}: unknown field; allowed here: {', '.join(allowed)}"
            )

    def required(self, key: str) -> Any:
        if key not in self.table:
            raise ModelError(f"{self.name(key)}: missing")
        return self.table[key]

    def sub(self, key: str) -> Fields:
        value = self.required(key)
        if not isinstance(value, dict):
            raise ModelError(f"{self.name(key)}: expected a table, got {value!r}")
        return Fields(value, self.name(key))

    def number(self, key: str, minimum: float = 0.0, exclusive: bool = False) -> float:
        value = self.required(key)
        # Check the type before comparing ("thirty" >= 0.0 raises TypeError); TOML's inf is no weight.
        is_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        in_range = is_number and (value > minimum if exclusive else value >= minimum)
        if not in_range:
            bound = f"> {minimum:g}" if exclusive else f"≥ {minimum:g}"
            raise ModelError(f"{self.name(key)}: expected a number {bound}, got {value!r}")
        return float(value)

    def integer(self, key: str, minimum: int, maximum: int) -> int:
        value = self.required(key)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise ModelError(
                f"{self.name(key)}: expected a whole number from {minimum} to {maximum}, got {value!r}"
            )
        return value

    def text(self, key: str) -> str:
        value = self.required(key)
        if not isinstance(value, str) or not value.strip():
            raise ModelError(f"{self.name(key)}: expected a non-empty string, got {value!r}")
        return value

    def choice(self, key: str, enum: type[EnumT]) -> EnumT:
        return choice(self.required(key), enum, self.name(key))


def choice(value: Any, enum: type[EnumT], field: str) -> EnumT:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ModelError(f"{field}: {value!r} is not one of: {allowed}") from None


def tables(table: Fields, key: str, header: str) -> list[Fields]:
    """An array of tables (``[[header]]``), each entry a ``Fields`` named by its place; none when absent."""
    entries = table.table.get(key, [])
    if not isinstance(entries, list):
        raise ModelError(f"{table.name(key)}: expected an array of tables ([[{header}]])")
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ModelError(f"{table.name(key)}[{index}]: expected a table, got {entry!r}")
        found.append(Fields(entry, f"{table.name(key)}[{index}]"))
    return found


def strings(table: Fields, key: str, lower: bool = False, upper: bool = False) -> tuple[str, ...]:
    values = table.table.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ModelError(f"{table.name(key)}: expected a list of non-empty strings, got {values!r}")
    return tuple(v.strip().lower() if lower else v.strip().upper() if upper else v.strip() for v in values)
