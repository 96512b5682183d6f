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
from scoring.grade import GradeRules, grade_rules
from scoring.kinds import Component, DealOutcome
from scoring.model import SECONDS_PER_DAY, ScoringModel, normalise_event_name
from scoring.model_fields import Fields as _Fields
from scoring.model_fields import strings as _strings
from scoring.model_fields import tables as _tables
from scoring.model_decisions import hot_rung, revisit_rules, sales_rules, unknown_policies
from scoring.qualification import Ladders, QualificationRules
from scoring.signal_loading import (
    Signals, careers_signal, dwell_rule, known_signal, page_rules, signal_list, signal_rules, track_events,
)
from scoring.stages import Rung

DEFAULT_MODEL_RESOURCE = "default_model.toml"
ROLES = ("decision_maker", "influencer", "user")


def default_model_text() -> str:
    return resources.files("scoring").joinpath(DEFAULT_MODEL_RESOURCE).read_text("utf-8")


def _shipped_criteria() -> Mapping[str, Any]:
    """The default model's [criteria] table: what a model file of the previous version lacks."""
    return tomllib.loads(default_model_text())["criteria"]


def _grade(doc: _Fields) -> GradeRules:
    """[grade]; a model file of the previous version has none and grades on the shipped default's."""
    table = doc.sub("grade") if "grade" in doc.table else _Fields(tomllib.loads(default_model_text())["grade"], "grade")
    return grade_rules(table, _rung)


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
             "sales", "revisit", "grade")
    signals = signal_rules(doc.sub("signals"))
    return ScoringModel(
        version=doc.text("version"),
        half_life_seconds=_half_lives(doc.sub("half_life_days")),
        signals=signals,
        track_events=track_events(doc.sub("events"), signals),
        outcome_events=_outcome_events(doc.sub("outcomes")),
        deal_outcomes=_deal_outcomes(doc.sub("outcomes")),
        page_rules=page_rules(doc.sub("page_views"), signals),
        default_page_kind=(default_page_kind := known_signal(doc.sub("page_views"), "default", signals)),
        dwell=dwell_rule(doc.sub("page_views"), signals),
        qualification=_qualification(doc.sub("thresholds"), doc.sub("qualification"), signals),
        fit=_fit(doc.sub("fit")),
        disqualify=_disqualify(doc.sub("disqualify"), signals, default_page_kind),
        criteria=criteria_rules(doc.sub("criteria"), _shipped_criteria),
        accounts=_accounts(doc.sub("accounts")),
        dedupe_window=doc.sub("dedupe").integer("window", 1, 1024),
        top_reasons=doc.sub("explain").integer("top_reasons", 1, 20),
        grade=_grade(doc),
        sales=sales_rules(doc),
        revisit=revisit_rules(doc),
    )


def _half_lives(table: _Fields) -> Mapping[Component, float]:
    table.only(*(component.value for component in Component))
    return MappingProxyType({
        component: table.number(component.value, exclusive=True) * SECONDS_PER_DAY
        for component in Component
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


def _rung(table: _Fields, name: str) -> Rung:
    fields = table.sub(name)
    fields.only("promote", "demote")
    promote, demote = fields.number("promote", exclusive=True), fields.number("demote")
    if demote >= promote:
        raise ModelError(
            f"{fields.name('demote')}: must be below promote ({promote:g}) so leads do not flap, got {demote:g}"
        )
    return Rung(promote=promote, demote=demote)


def _qualification(
    thresholds: _Fields, table: _Fields, signals: Signals
) -> QualificationRules:
    thresholds.only("mql", "sql", "pql", "warm", "hot")
    table.only("hot_min_interest", "warm_max_missing_criteria", "product_signals")
    product_signals = signal_list(table, "product_signals", signals)
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
    rules = []
    for fields in _tables(table, "titles", "fit.titles"):
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


def _disqualify(table: _Fields, signals: Signals, plain_view: str) -> DisqualifyRules:
    table.only("competitor_domains", "student_domains", "countries", "min_employees", "signals",
               "careers_only_after", "careers_signal")
    careers_only_after = table.integer("careers_only_after", 0, 10**6)
    return DisqualifyRules(
        competitor_domains=frozenset(_strings(table, "competitor_domains", lower=True)),
        student_domains=_strings(table, "student_domains", lower=True),
        countries=frozenset(_country(c) for c in _strings(table, "countries")),
        min_employees=table.integer("min_employees", 0, 10**7),
        signals=signal_list(table, "signals", signals),
        careers_only_after=careers_only_after,
        careers_signal=careers_signal(table, careers_only_after, signals),
        plain_view=plain_view,
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
