"""Reading a scoring-model TOML file into a ``ScoringModel``, every field validated.

An error names the field path and what is allowed, so a marketing-ops edit that breaks the
file fails at start, not in the middle of the night. Reading the file (``load_model``,
``default_model_text``) is the scoring core's one I/O, done once at start by its caller.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scoring.accounts import AccountRules
from scoring.criteria_loading import criteria_rules
from scoring.errors import ModelError
from scoring.fit import DisqualifyRules, FitRules, TitleRule
from scoring.kinds import Component, DealOutcome, SignalKind
from scoring.model import (
    SECONDS_PER_DAY,
    DwellRule,
    PageRule,
    ScoringModel,
    SignalRule,
    normalise_event_name,
)
from scoring.model_fields import Fields as _Fields
from scoring.model_fields import choice as _choice
from scoring.model_fields import strings as _strings
from scoring.model_decisions import hot_rung, revisit_rules, sales_rules, unknown_policies
from scoring.qualification import Ladders, QualificationRules
from scoring.stages import Rung

DEFAULT_MODEL_RESOURCE = "default_model.toml"
ROLES = ("decision_maker", "influencer", "user")


def default_model_text() -> str:
    return resources.files("scoring").joinpath(DEFAULT_MODEL_RESOURCE).read_text("utf-8")


def _shipped_criteria() -> Mapping[str, Any]:
    """The default model's [criteria] table: what a model file of the previous version lacks."""
    return tomllib.loads(default_model_text())["criteria"]


def load_model(path: str | Path | None = None) -> ScoringModel:
    """Load and validate a model file; ``None`` loads the shipped default."""
    if path is None:
        return parse_model(default_model_text(), source=f"(default) {DEFAULT_MODEL_RESOURCE}")
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ModelError(f"model file {path}: cannot be read: {exc.strerror}") from exc
    return parse_model(text, source=str(path))


def parse_model(text: str, source: str = "model") -> ScoringModel:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"model file {source}: not valid TOML: {exc}") from exc
    try:
        return _build_model(_Fields(document, ""))
    except ModelError as exc:
        raise ModelError(f"model file {source}: {exc}") from None


def _build_model(doc: _Fields) -> ScoringModel:
    doc.only("version", "half_life_days", "signals", "events", "outcomes", "page_views",
             "thresholds", "qualification", "fit", "disqualify", "criteria", "accounts", "dedupe", "explain",
             "sales", "revisit")
    signals = _signals(doc.sub("signals"))
    return ScoringModel(
        version=doc.text("version"),
        half_life_seconds=_half_lives(doc.sub("half_life_days")),
        signals=signals,
        track_events=_track_events(doc.sub("events"), signals),
        outcome_events=_outcome_events(doc.sub("outcomes")),
        deal_outcomes=_deal_outcomes(doc.sub("outcomes")),
        page_rules=_page_rules(doc.sub("page_views"), signals),
        default_page_kind=_known_signal(doc.sub("page_views"), "default", signals),
        dwell=_dwell(doc.sub("page_views"), signals),
        qualification=_qualification(doc.sub("thresholds"), doc.sub("qualification"), signals),
        fit=_fit(doc.sub("fit")),
        disqualify=_disqualify(doc.sub("disqualify"), signals),
        criteria=criteria_rules(doc.sub("criteria"), _shipped_criteria),
        accounts=_accounts(doc.sub("accounts")),
        dedupe_window=doc.sub("dedupe").integer("window", 1, 1024),
        top_reasons=doc.sub("explain").integer("top_reasons", 1, 20),
        sales=sales_rules(doc),
        revisit=revisit_rules(doc),
    )


def _half_lives(table: _Fields) -> Mapping[Component, float]:
    table.only(*(component.value for component in Component))
    return MappingProxyType({
        component: table.number(component.value, exclusive=True) * SECONDS_PER_DAY
        for component in Component
    })


def _signals(table: _Fields) -> Mapping[SignalKind, SignalRule]:
    rules = {}
    for key in table.table:
        kind = _choice(key, SignalKind, table.name(key))
        entry = table.sub(key)
        entry.only("component", "points", "cap")
        cap = entry.number("cap", exclusive=True) if "cap" in entry.table else None
        rules[kind] = SignalRule(kind, entry.choice("component", Component), entry.number("points"), cap)
    return MappingProxyType(rules)


def _known_signal(table: _Fields, key: str, signals: Mapping[SignalKind, SignalRule]) -> SignalKind:
    kind = table.choice(key, SignalKind)
    if kind not in signals:
        raise ModelError(f"{table.name(key)}: signal {kind.value!r} has no entry under [signals]")
    return kind


def _track_events(table: _Fields, signals: Mapping[SignalKind, SignalRule]) -> Mapping[str, SignalKind]:
    return MappingProxyType({
        normalise_event_name(name): _known_signal(table, name, signals) for name in table.table
    })


DEFAULT_DEAL_OUTCOMES = {
    DealOutcome.OPPORTUNITY: ("Opportunity Created",), DealOutcome.WON: ("Deal Won",), DealOutcome.LOST: ("Deal Lost",),
}


def _outcome_events(table: _Fields) -> frozenset[str]:
    table.only("events", *(outcome.value for outcome in DealOutcome))
    names = table.required("events")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ModelError(f"{table.name('events')}: expected a list of event names, got {names!r}")
    # A name that says what happened to a deal is an outcome even when `events` forgets it: never scored.
    return frozenset(normalise_event_name(name) for name in names) | frozenset(_deal_outcomes(table))


def _deal_outcomes(table: _Fields) -> Mapping[str, DealOutcome]:
    """Which outcome names open an opportunity, win or lose a deal; a missing list takes the default names."""
    found: dict[str, DealOutcome] = {}
    for outcome in DealOutcome:
        names = _strings(table, outcome.value) if outcome.value in table.table else DEFAULT_DEAL_OUTCOMES[outcome]
        for name in names:
            key = normalise_event_name(name)
            if found.get(key, outcome) is not outcome:
                raise ModelError(f"{table.name(outcome.value)}: {name!r} is already a {found[key].value} outcome")
            found[key] = outcome
    return MappingProxyType(found)


def _page_rules(table: _Fields, signals: Mapping[SignalKind, SignalRule]) -> tuple[PageRule, ...]:
    table.only("default", "rules", "dwell_signal", "dwell_minimum_seconds")
    entries = table.table.get("rules", [])
    if not isinstance(entries, list):
        raise ModelError(f"{table.name('rules')}: expected an array of tables ([[page_views.rules]])")
    rules = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ModelError(f"{table.name('rules')}[{index}]: expected a table, got {entry!r}")
        fields = _Fields(entry, f"{table.name('rules')}[{index}]")
        fields.only("prefix", "signal")
        prefix = fields.text("prefix")
        if not prefix.startswith("/"):
            raise ModelError(f"{fields.name('prefix')}: a path prefix starts with '/', got {prefix!r}")
        rules.append(PageRule(prefix.lower(), _known_signal(fields, "signal", signals)))
    # The most specific prefix wins, whatever order the file lists them in.
    return tuple(sorted(rules, key=lambda rule: len(rule.prefix), reverse=True))


def _dwell(table: _Fields, signals: Mapping[SignalKind, SignalRule]) -> DwellRule | None:
    """Optional (a file of the previous version has neither field): both or none."""
    if "dwell_signal" not in table.table and "dwell_minimum_seconds" not in table.table:
        return None
    kind = _known_signal(table, "dwell_signal", signals)
    if signals[kind].component is not Component.INTEREST:
        raise ModelError(f"{table.name('dwell_signal')}: dwell is engagement with content: "
                         f"{kind.value!r} must feed interest, not {signals[kind].component.value}")
    return DwellRule(kind, table.number("dwell_minimum_seconds", exclusive=True))


def _rung(table: _Fields, name: str) -> Rung:
    fields = table.sub(name)
    fields.only("promote", "demote")
    promote, demote = fields.number("promote", exclusive=True), fields.number("demote")
    if demote >= promote:
        raise ModelError(
            f"{fields.name('demote')}: must be below promote ({promote:g}) so leads do not flap, got {demote:g}"
        )
    return Rung(promote=promote, demote=demote)


def _signal_list(table: _Fields, key: str, signals: Mapping[SignalKind, SignalRule]) -> frozenset[SignalKind]:
    kinds = set()
    for index, value in enumerate(_strings(table, key)):
        kind = _choice(value, SignalKind, f"{table.name(key)}[{index}]")
        if kind not in signals:
            raise ModelError(f"{table.name(key)}[{index}]: signal {kind.value!r} has no entry under [signals]")
        kinds.add(kind)
    return frozenset(kinds)


def _qualification(
    thresholds: _Fields, table: _Fields, signals: Mapping[SignalKind, SignalRule]
) -> QualificationRules:
    thresholds.only("mql", "sql", "pql", "warm", "hot")
    table.only("hot_min_interest", "warm_max_missing_criteria", "product_signals")
    product_signals = _signal_list(table, "product_signals", signals)
    if not product_signals:
        raise ModelError(f"{table.name('product_signals')}: name at least one signal that makes a PQL")
    return QualificationRules(
        ladders=Ladders(
            mql=_rung(thresholds, "mql"), sql=_rung(thresholds, "sql"),
            pql=_rung(thresholds, "pql"), warm=_rung(thresholds, "warm"),
            hot=hot_rung(thresholds, table, _rung),
        ),
        warm_max_missing=table.integer("warm_max_missing_criteria", 0, 20),
        product_signals=product_signals,
    )


def _fit(table: _Fields) -> FitRules:
    table.only("mql_minimum", "industry", "company_size", "country", "titles", "free_mail", "unknown")
    industry, size, country, free_mail = (table.sub(k) for k in ("industry", "company_size", "country", "free_mail"))
    industry.only("points", "match")
    size.only("points", "min", "max")
    country.only("points", "match")
    free_mail.only("penalty", "domains")
    size_min, size_max = size.integer("min", 0, 10**7), size.integer("max", 0, 10**7)
    if size_max < size_min:
        raise ModelError(f"{size.name('max')}: must not be below min ({size_min}), got {size_max}")
    return FitRules(
        industry_points=industry.number("points"),
        industries=frozenset(_strings(industry, "match", lower=True)),
        size_points=size.number("points"),
        size_min=size_min,
        size_max=size_max,
        country_points=country.number("points"),
        countries=frozenset(_country(c) for c in _strings(country, "match")),
        titles=_titles(table),
        free_mail_penalty=free_mail.number("penalty"),
        free_mail_domains=frozenset(_strings(free_mail, "domains", lower=True)),
        mql_minimum=table.number("mql_minimum"),
        unknown=unknown_policies(table),
    )


def _country(value: str) -> str:
    """ISO codes compare upper case, country names lower case (as the profile normalises them)."""
    return value.upper() if len(value) <= 3 else value.lower()


def _titles(table: _Fields) -> tuple[TitleRule, ...]:
    entries = table.table.get("titles", [])
    if not isinstance(entries, list):
        raise ModelError(f"{table.name('titles')}: expected an array of tables ([[fit.titles]])")
    rules = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ModelError(f"{table.name('titles')}[{index}]: expected a table, got {entry!r}")
        fields = _Fields(entry, f"{table.name('titles')}[{index}]")
        fields.only("pattern", "points", "role")
        try:
            pattern = re.compile(fields.text("pattern"), re.IGNORECASE)
        except re.error as exc:
            raise ModelError(f"{fields.name('pattern')}: not a valid regular expression: {exc}") from None
        role = fields.text("role")
        if role not in ROLES:
            raise ModelError(f"{fields.name('role')}: {role!r} is not one of: {', '.join(ROLES)}")
        rules.append(TitleRule(pattern, fields.number("points"), role))
    return tuple(rules)


def _disqualify(table: _Fields, signals: Mapping[SignalKind, SignalRule]) -> DisqualifyRules:
    table.only("competitor_domains", "student_domains", "countries", "min_employees", "signals",
               "careers_only_after")
    return DisqualifyRules(
        competitor_domains=frozenset(_strings(table, "competitor_domains", lower=True)),
        student_domains=_strings(table, "student_domains", lower=True),
        countries=frozenset(_country(c) for c in _strings(table, "countries")),
        min_employees=table.integer("min_employees", 0, 10**7),
        signals=_signal_list(table, "signals", signals),
        careers_only_after=table.integer("careers_only_after", 0, 10**6),
    )


def _accounts(table: _Fields) -> AccountRules:
    table.only("warm", "hot", "hot_min_people", "engaged_minimum", "max_members")
    warm, hot = _rung(table, "warm"), _rung(table, "hot")
    if hot.promote <= warm.promote or hot.demote <= warm.demote:
        raise ModelError(f"{table.name('hot')}: thresholds must be above those of warm")
    return AccountRules(
        warm=warm, hot=hot,
        hot_min_people=table.integer("hot_min_people", 1, 100),
        engaged_minimum=table.number("engaged_minimum"),
        max_members=table.integer("max_members", 1, 1000),
    )
