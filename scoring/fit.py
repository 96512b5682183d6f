"""Profile fit against the ideal customer profile, and what puts a lead out of market."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from msgspec import Struct

from scoring.kinds import SignalKind
from scoring.profile import Fact, email_domain

MEMO_SIZE = 4096  # fit results kept per rules; the memo starts afresh when full
_FIT_FIELDS = ("industry", "employees", "country", "title")
# How a gate counts a fit attribute nobody has stated: as matching, left out of the
# reckoning (the minimum shrinks to the share of fit points that are known), or as not matching.
UNKNOWN_POLICIES = ("match", "neutral", "no_match")
GATES = ("mql", "pql", "hot", "sql")
# Neutral where behaviour decides (so product usage alone can make a PQL); SQL without an
# acceptance needs fit that is known and good.
DEFAULT_UNKNOWN: Mapping[str, str] = MappingProxyType({"mql": "neutral", "pql": "neutral", "hot": "neutral",
                                                      "sql": "no_match"})


@dataclass(frozen=True)
class TitleRule:
    pattern: re.Pattern[str]
    points: float
    role: str  # decision_maker, influencer, user: buying-committee coverage uses it


@dataclass(frozen=True)
class FitRules:
    industry_points: float
    industries: frozenset[str]  # lower case
    size_points: float
    size_min: int
    size_max: int
    country_points: float
    countries: frozenset[str]  # upper case ISO codes or lower-case names
    titles: tuple[TitleRule, ...]  # first match wins
    free_mail_penalty: float
    free_mail_domains: frozenset[str]
    mql_minimum: float  # below this a lead is never MQL, PQL or SQL
    # gate (mql, pql, hot, sql) -> how an unknown attribute counts there (UNKNOWN_POLICIES)
    unknown: Mapping[str, str] = field(default_factory=lambda: DEFAULT_UNKNOWN)

    @cached_property
    def title_points(self) -> float:
        return max((rule.points for rule in self.titles), default=0.0)

    @cached_property
    def memo(self) -> dict[tuple, FitResult]:
        """Fit results by the profile values they depend on: a lead's profile rarely changes."""
        return {}


@dataclass(frozen=True)
class DisqualifyRules:
    competitor_domains: frozenset[str]
    student_domains: tuple[str, ...]  # exact domains, or ".edu"-style suffixes
    countries: frozenset[str]
    min_employees: int
    signals: frozenset[SignalKind]
    careers_only_after: int  # this many careers views and nothing else of value: a job seeker
    careers_signal: SignalKind | None = None  # the careers view the rule counts (None: the rule is off)
    plain_view: SignalKind | None = None  # a page view no rule maps: the only other kind a job seeker shows

    @cached_property
    def memo(self) -> dict[tuple, tuple[str, ...]]:
        """Profile disqualifications by the profile values they depend on: a lead's profile rarely changes."""
        return {}


class FitResult(Struct, frozen=True, gc=False):
    score: float
    matched: tuple[tuple[str, float], ...]  # (what matched, points), for explanations
    role: str | None
    raw: float = 0.0  # the sum before clamping to 0..100: a free-mail penalty still counts at a gate
    known_max: float = 0.0  # the most the stated attributes could have scored
    unknown_max: float = 0.0  # the most the attributes nobody stated could add
    unknown: tuple[str, ...] = ()  # industry, company_size, country, title: not stated yet


class FitGates(Struct, frozen=True, gc=False):
    """Whether fit lets a lead through each gate, and which gates the unknown attributes decide."""

    mql: bool
    pql: bool
    hot: bool
    sql: bool
    uncertain: frozenset[str] = frozenset()  # gates that would pass if the unknowns matched, and fail if not


def fit_passes(fit: FitResult, minimum: float, policy: str) -> bool:
    if policy == "match":
        return fit.raw + fit.unknown_max >= minimum
    if policy == "no_match":
        return fit.raw >= minimum
    total = fit.known_max + fit.unknown_max
    return fit.raw >= (minimum * fit.known_max / total if total else 0.0)


def fit_gates(fit: FitResult, rules: FitRules) -> FitGates:
    minimum, policies = rules.mql_minimum, rules.unknown
    passes = [fit_passes(fit, minimum, policies[gate]) for gate in GATES]
    uncertain = frozenset(gate for gate in GATES if fit.unknown and fit_passes(fit, minimum, "match")
                          and not fit_passes(fit, minimum, "no_match"))
    return FitGates(*passes, uncertain=uncertain)


def _value(profile: Mapping[str, Fact], field: str) -> str | int | None:
    fact = profile.get(field)
    return fact.value if fact else None


def assess_fit(profile: Mapping[str, Fact], rules: FitRules) -> FitResult:
    industry, employees, country, title = [fact.value if fact else None for fact in map(profile.get, _FIT_FIELDS)]
    domain = email_domain(profile)
    # The type too: True == 1, but a size of True is no company size.
    key = (industry, employees, type(employees), country, title, domain)
    result = rules.memo.get(key)
    if result is None:
        if len(rules.memo) >= MEMO_SIZE:
            rules.memo.clear()
        result = rules.memo[key] = _fit(industry, employees, country, title, domain, rules)
    return result


def _fit(industry: str | int | None, employees: str | int | None, country: str | int | None,
         title: str | int | None, domain: str | None, rules: FitRules) -> FitResult:
    matched: list[tuple[str, float]] = []
    stated = {"industry": isinstance(industry, str), "company_size": isinstance(employees, int),
              "country": isinstance(country, str), "title": isinstance(title, str)}
    most = {"industry": rules.industry_points, "company_size": rules.size_points, "country": rules.country_points,
            "title": rules.title_points}
    if isinstance(industry, str) and industry.lower() in rules.industries:
        matched.append((f"industry {industry.lower()}", rules.industry_points))
    if isinstance(employees, int) and rules.size_min <= employees <= rules.size_max:
        matched.append((f"company size {employees}", rules.size_points))
    if isinstance(country, str) and country in rules.countries:
        matched.append((f"country {country}", rules.country_points))
    role = None
    if isinstance(title, str):
        rule = next((r for r in rules.titles if r.pattern.search(title)), None)
        if rule is not None:
            role = rule.role
            matched.append((f"title {rule.role}", rule.points))
    if domain in rules.free_mail_domains:
        matched.append(("free-mail address", -rules.free_mail_penalty))
    raw = float(sum(points for _, points in matched))
    unknown = tuple(name for name, known in stated.items() if not known)
    return FitResult(score=min(max(raw, 0.0), 100.0), matched=tuple(matched), role=role, raw=raw,
                     known_max=sum(most[name] for name, known in stated.items() if known),
                     unknown_max=sum(most[name] for name in unknown), unknown=unknown)


def _is_student(domain: str, student_domains: tuple[str, ...]) -> bool:
    return any(domain.endswith(entry) if entry.startswith(".") else domain == entry for entry in student_domains)


def disqualifications(
    profile: Mapping[str, Fact], seen: Mapping[SignalKind, int], rules: DisqualifyRules,
    flagged_at: float | None = None,
) -> tuple[str, ...]:
    """Every reason the lead is out of market right now; empty when it is not.

    ``seen`` counts occurrences per signal kind (never decayed: a hard bounce stays a bounce), but
    a disqualifying signal holds against the address stated before it: an address identified
    after the latest one (``flagged_at``, by event time; None for a lead recorded before it was
    kept) clears it.
    """
    domain, country, employees = email_domain(profile), _value(profile, "country"), _value(profile, "employees")
    key = (domain, country, employees, type(employees))  # the type too: True == 1, but is no head count
    profile_reasons = rules.memo.get(key)
    if profile_reasons is None:
        if len(rules.memo) >= MEMO_SIZE:
            rules.memo.clear()
        profile_reasons = rules.memo[key] = _profile_disqualifications(domain, country, employees, rules)
    reasons = list(profile_reasons)
    email = profile.get("email")
    if not rules.signals.isdisjoint(seen) and (flagged_at is None or email is None or email.stated_at <= flagged_at):
        reasons.extend(f"signal {kind}" for kind in sorted(rules.signals & seen.keys()))
    careers = seen.get(rules.careers_signal, 0) if rules.careers_signal is not None else 0
    if (rules.careers_only_after and careers >= rules.careers_only_after
            and all(kind == rules.careers_signal or kind == rules.plain_view for kind in seen)):
        reasons.append("careers_only")
    return tuple(reasons)


def _profile_disqualifications(domain: str | None, country: str | int | None, employees: str | int | None,
                               rules: DisqualifyRules) -> tuple[str, ...]:
    reasons = []
    if domain in rules.competitor_domains:
        reasons.append("competitor")
    if domain is not None and _is_student(domain, rules.student_domains):
        reasons.append("student")
    if isinstance(country, str) and country in rules.countries:
        reasons.append("out_of_market_country")
    if isinstance(employees, int) and employees < rules.min_employees:
        reasons.append("out_of_market_size")
    return tuple(reasons)
