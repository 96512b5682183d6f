"""The scoring model: one TOML file parsed once into typed, read-only objects.

Every field is validated; an error names the field path and what is allowed, so a
marketing-ops edit that breaks the file fails at start, not in the middle of the night.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from scoring.errors import ModelError
from scoring.kinds import Component, SignalKind
from scoring.stages import Rung

SECONDS_PER_DAY = 86_400.0
DEFAULT_MODEL_RESOURCE = "default_model.toml"
EnumT = TypeVar("EnumT", Component, SignalKind)


@dataclass(frozen=True)
class SignalRule:
    """How much one occurrence of a signal kind is worth, and which component it feeds."""

    kind: SignalKind
    component: Component
    points: float


@dataclass(frozen=True)
class PageRule:
    """Page views whose path starts with ``prefix`` count as ``kind``."""

    prefix: str
    kind: SignalKind


@dataclass(frozen=True)
class ScoringModel:
    version: str
    half_life_seconds: Mapping[Component, float]
    signals: Mapping[SignalKind, SignalRule]
    track_events: Mapping[str, SignalKind]  # keyed by normalised event name
    outcome_events: frozenset[str]  # normalised names, used for calibration only
    page_rules: tuple[PageRule, ...]  # longest prefix first
    default_page_kind: SignalKind
    temperature_rungs: tuple[Rung, Rung]  # warm, hot
    stage_rungs: tuple[Rung, Rung]  # mql, sql
    dedupe_window: int
    top_reasons: int

    def rule(self, kind: SignalKind) -> SignalRule:
        return self.signals[kind]

    def half_life_of(self, kind: SignalKind) -> float:
        return self.half_life_seconds[self.signals[kind].component]


def normalise_event_name(name: str) -> str:
    """'Demo Requested', 'demo_requested' and 'demo-requested' name the same event."""
    return re.sub(r"[\s_\-]+", " ", name.strip()).lower()


def default_model_text() -> str:
    return resources.files("scoring").joinpath(DEFAULT_MODEL_RESOURCE).read_text("utf-8")


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


class _Fields:
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

    def sub(self, key: str) -> _Fields:
        value = self.required(key)
        if not isinstance(value, dict):
            raise ModelError(f"{self.name(key)}: expected a table, got {value!r}")
        return _Fields(value, self.name(key))

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
        return _choice(self.required(key), enum, self.name(key))


def _choice(value: Any, enum: type[EnumT], field: str) -> EnumT:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ModelError(f"{field}: {value!r} is not one of: {allowed}") from None


def _build_model(doc: _Fields) -> ScoringModel:
    doc.only("version", "half_life_days", "signals", "events", "outcomes", "page_views",
             "thresholds", "dedupe", "explain")
    signals = _signals(doc.sub("signals"))
    return ScoringModel(
        version=doc.text("version"),
        half_life_seconds=_half_lives(doc.sub("half_life_days")),
        signals=signals,
        track_events=_track_events(doc.sub("events"), signals),
        outcome_events=_outcome_events(doc.sub("outcomes")),
        page_rules=_page_rules(doc.sub("page_views"), signals),
        default_page_kind=_known_signal(doc.sub("page_views"), "default", signals),
        temperature_rungs=_ladder(doc.sub("thresholds").sub("temperature"), ("warm", "hot")),
        stage_rungs=_ladder(doc.sub("thresholds").sub("stage"), ("mql", "sql")),
        dedupe_window=doc.sub("dedupe").integer("window", 1, 1024),
        top_reasons=doc.sub("explain").integer("top_reasons", 1, 20),
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
        entry.only("component", "points")
        rules[kind] = SignalRule(kind, entry.choice("component", Component), entry.number("points"))
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


def _outcome_events(table: _Fields) -> frozenset[str]:
    table.only("events")
    names = table.required("events")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ModelError(f"{table.name('events')}: expected a list of event names, got {names!r}")
    return frozenset(normalise_event_name(name) for name in names)


def _page_rules(table: _Fields, signals: Mapping[SignalKind, SignalRule]) -> tuple[PageRule, ...]:
    table.only("default", "rules")
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


def _ladder(table: _Fields, rung_names: tuple[str, str]) -> tuple[Rung, Rung]:
    table.only(*rung_names)
    rungs = []
    for name in rung_names:
        fields = table.sub(name)
        fields.only("promote", "demote")
        promote, demote = fields.number("promote", exclusive=True), fields.number("demote")
        if demote >= promote:
            raise ModelError(
                f"{fields.name('demote')}: must be below promote ({promote:g}) so leads do not flap,"
                f" got {demote:g}"
            )
        rungs.append(Rung(promote=promote, demote=demote))
    lower, upper = rungs
    if upper.promote <= lower.promote or upper.demote <= lower.demote:
        raise ModelError(
            f"{table.name(rung_names[1])}: thresholds must be above those of {rung_names[0]}"
        )
    return lower, upper
