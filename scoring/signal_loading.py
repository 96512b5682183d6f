"""The model file's signals: the kinds it defines under [signals], and every place that names one.

A signal kind is any name the file defines (the shipped default_model.toml defines the built-in
ones). Track events, page rules, the dwell signal, product signals, disqualifying signals and the
careers-only rule may only name defined kinds: a name the file does not define is refused at
load, naming the field and the signal, so a typo never scores silently as nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from scoring.errors import ModelError
from scoring.kinds import Component, SignalKind
from scoring.model import DwellRule, PageRule, SignalRule, normalise_event_name
from scoring.model_fields import Fields, strings, tables

# Names travel in JSON, metric labels and TOML keys (calibration rewrites them): a bare TOML key,
# so letters, digits, '_' and '-', starting with a letter or digit.
SIGNAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
# What a file of an earlier version that sets careers_only_after without careers_signal means.
DEFAULT_CAREERS_SIGNAL = "careers_view"

Signals = Mapping[SignalKind, SignalRule]


def signal_rules(table: Fields) -> Signals:
    rules = {}
    for key in table.table:
        if not SIGNAL_NAME.fullmatch(key):
            raise ModelError(f"{table.name(key)}: a signal name is 1 to 64 letters, digits, '_' or '-', "
                             f"starting with a letter or digit, got {key!r}")
        entry = table.sub(key)
        entry.only("component", "points", "cap")
        cap = entry.number("cap", exclusive=True) if "cap" in entry.table else None
        rules[key] = SignalRule(key, entry.choice("component", Component), entry.number("points"), cap)
    return MappingProxyType(rules)


def defined(value: Any, field: str, signals: Signals) -> SignalKind:
    """``value`` as a signal kind, refused unless the file defines it under [signals]."""
    if not isinstance(value, str) or not value.strip():
        raise ModelError(f"{field}: expected a signal name, got {value!r}")
    if value not in signals:
        raise ModelError(f"{field}: signal {value!r} is not defined under [signals]; "
                         f"define it there ({value} = {{ component = ..., points = ... }}) or name a defined one")
    return value


def known_signal(table: Fields, key: str, signals: Signals) -> SignalKind:
    return defined(table.required(key), table.name(key), signals)


def signal_list(table: Fields, key: str, signals: Signals) -> frozenset[SignalKind]:
    return frozenset(defined(value, f"{table.name(key)}[{index}]", signals)
                     for index, value in enumerate(strings(table, key)))


def track_events(table: Fields, signals: Signals) -> Mapping[str, SignalKind]:
    return MappingProxyType({normalise_event_name(name): known_signal(table, name, signals) for name in table.table})


def page_rules(table: Fields, signals: Signals) -> tuple[PageRule, ...]:
    table.only("default", "rules", "dwell_signal", "dwell_minimum_seconds")
    rules = []
    for fields in tables(table, "rules", "page_views.rules"):
        fields.only("prefix", "signal")
        prefix = fields.text("prefix")
        if not prefix.startswith("/"):
            raise ModelError(f"{fields.name('prefix')}: a path prefix starts with '/', got {prefix!r}")
        rules.append(PageRule(prefix.lower(), known_signal(fields, "signal", signals)))
    # The most specific prefix wins, whatever order the file lists them in.
    return tuple(sorted(rules, key=lambda rule: len(rule.prefix), reverse=True))


def dwell_rule(table: Fields, signals: Signals) -> DwellRule | None:
    """Optional (a file of the previous version has neither field): both or none."""
    if "dwell_signal" not in table.table and "dwell_minimum_seconds" not in table.table:
        return None
    kind = known_signal(table, "dwell_signal", signals)
    if signals[kind].component is not Component.INTEREST:
        raise ModelError(f"{table.name('dwell_signal')}: dwell is engagement with content: "
                         f"{kind!r} must feed interest, not {signals[kind].component.value}")
    return DwellRule(kind, table.number("dwell_minimum_seconds", exclusive=True))


def careers_signal(table: Fields, careers_only_after: int, signals: Signals) -> SignalKind | None:
    """The kind the careers-only rule counts: None when the rule is off (``careers_only_after`` 0)."""
    if "careers_signal" in table.table:
        return known_signal(table, "careers_signal", signals)
    if not careers_only_after:
        return None
    if DEFAULT_CAREERS_SIGNAL not in signals:
        raise ModelError(f"{table.name('careers_only_after')}: counts signal {DEFAULT_CAREERS_SIGNAL!r} "
                         f"(careers_signal's default), which is not defined under [signals]; name a defined "
                         f"one as careers_signal, or set careers_only_after = 0")
    return DEFAULT_CAREERS_SIGNAL
