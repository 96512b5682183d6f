"""Who a lead is: profile facts from identify traits and form fields, newest answer winning.

Each fact keeps the event time it was stated at, so the same events give the same profile
whatever order they arrive in, and a later answer revises an earlier one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from msgspec import Struct

Scalar = str | int | float | bool
ProfileValue = str | int

# Field -> the attribute names trackers use for it, in order of preference.
ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "email": ("email",),
    "name": ("name",),
    "company": ("company", "company.name", "company_name"),
    "title": ("title", "job_title", "jobtitle"),
    "industry": ("industry", "company.industry"),
    "employees": ("employees", "company.employee_count", "company_size", "company.employees"),
    "country": ("country", "address.country", "country_code"),
})


# A group call's traits describe the account the lead belongs to: its name is the company's,
# and its email (billing@...) is nobody's. Only company facts are read from them.
ACCOUNT_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "company": ("name", "company", "company.name"),
    "industry": ("industry",),
    "employees": ("employees", "employee_count", "company_size"),
    "country": ("country", "address.country"),
})


class Fact(Struct, frozen=True, gc=False, array_like=True):
    value: ProfileValue
    stated_at: float


# Larger claims are not a company size we can use (and would not fit a 64-bit field).
MAX_EMPLOYEES = 10_000_000
_SIZE = re.compile(r"(\d+(?:[.,]\d+)*)\s*([km])?", re.IGNORECASE)


def _number_of_people(text: str) -> float | None:
    match = _SIZE.search(text)
    if match is None:
        return None
    digits, suffix = match.groups()
    # "1,500" groups thousands; "1.5k" has a decimal point before its suffix.
    number = float(digits.replace(",", "")) if suffix is None else float(digits.replace(",", "."))
    return number * {"k": 1_000, "m": 1_000_000}.get((suffix or "").lower(), 1)


def _employees(value: Scalar) -> int | None:
    """A head count from 400, "400", "1,500", "1.5k", or a range "50-200" (its midpoint)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        count = float(value)
    else:
        bounds = [n for n in (_number_of_people(part) for part in re.split(r"\s*(?:-|–|to)\s*", value)) if n is not None]
        if not bounds:
            return None
        count = sum(bounds[:2]) / len(bounds[:2])
    return int(count) if 0 <= count <= MAX_EMPLOYEES else None


def _text(field: str, value: Scalar) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()[:200]
    if field == "email":
        return text.lower() if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) else None
    if field == "country":
        return text.upper() if len(text) <= 3 else text.lower()
    return text


def facts_from(
    attributes: Mapping[str, Scalar], aliases: Mapping[str, tuple[str, ...]] = ALIASES
) -> dict[str, ProfileValue]:
    """The profile fields an event's attributes state, normalised; unusable values are left out."""
    facts: dict[str, ProfileValue] = {}
    if not attributes:
        return facts  # most page views say nothing about the person: no alias to try
    for field, names in aliases.items():
        for name in names:
            if name not in attributes:
                continue
            value = _employees(attributes[name]) if field == "employees" else _text(field, attributes[name])
            if value is not None:
                facts[field] = value
                break
    return facts


def merge_facts(held: Mapping[str, Fact], stated: Mapping[str, ProfileValue], at: float) -> Mapping[str, Fact]:
    """The later statement of a field wins; equal times resolve by value, never by arrival order."""
    if not stated:
        return held
    merged = dict(held)
    for field, value in stated.items():
        current = merged.get(field)
        if current is None or (at, str(value)) > (current.stated_at, str(current.value)):
            merged[field] = Fact(value, at)
    return MappingProxyType(merged)


def email_domain(profile: Mapping[str, Fact]) -> str | None:
    email = profile.get("email")
    if email is None or not isinstance(email.value, str):
        return None
    return email.value.rsplit("@", 1)[1]
