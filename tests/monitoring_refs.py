"""The metric names the monitoring config reads: the Grafana dashboard's queries and the alert rules.

`referenced_metrics()` lists every metric name used in a PromQL expression of
`monitoring/grafana/dashboards/*.json` and `monitoring/prometheus/rules.yml`, so a test against
a live `/metrics` scrape can check that each one exists. A histogram is named by its base name
(`leadstream_alert_delivery_seconds`, not `..._bucket`) and flagged `histogram=True`; its
`sample_names` are the `_bucket`/`_sum`/`_count` series a scrape shows. Series Prometheus makes
itself (`up`, `scrape_*`, `ALERTS`) and the rules' own recorded series are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS = REPO / "monitoring" / "grafana" / "dashboards"
RULES = REPO / "monitoring" / "prometheus" / "rules.yml"

# Series Prometheus writes itself: never in a process's /metrics.
SYNTHETIC = frozenset({
    "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
    "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE",
})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
_UNIT_SUFFIXES = ("_seconds", "_bytes")  # `<unit>_count`/`_sum` is a histogram's (or summary's), never a counter's
ALERT_CONSUMER_PREFIX = "leadstream_alert"  # leadstream_alerts_* and leadstream_alert_delivery_seconds
COLLECTOR_PREFIX = "leadstream_collector_"
CRM_PREFIX = "leadstream_crm_"  # the `leadstream crm` consumer

_KEYWORDS = frozenset({
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "atan2", "inf", "nan",
})
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w.$:])([A-Za-z_:][\w:]*)(\s*\()?")


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it is used."""

    where: str  # "dashboard leadstream, panel 'Lead funnel (leads per stage)' A" or "rule LeadstreamMqlRateDrop"
    promql: str


@dataclass(frozen=True)
class MetricRef:
    """A metric the monitoring config reads."""

    name: str  # as a /metrics scrape names it; a histogram's base name
    histogram: bool
    process: str  # "alerts" (the `leadstream alerts` consumer), "crm" (`leadstream crm`), "collector" or "worker"
    used_in: tuple[str, ...]

    @property
    def sample_names(self) -> frozenset[str]:
        """The sample names a scrape of the process shows for it."""
        if self.histogram:
            return frozenset(self.name + suffix for suffix in HISTOGRAM_SUFFIXES)
        return frozenset({self.name})


def metric_names_in(promql: str) -> set[str]:
    """Series names an expression selects, as written (`x_bucket` stays `x_bucket`)."""
    names = {a or b for a, b in _NAME_MATCHER.findall(promql)}
    text = _STRING.sub('""', promql)
    text = _COMMENT.sub("", text)
    text = _MATCHERS.sub("", text)
    text = _GROUPING.sub("", text)
    text = _RANGE.sub("", text)
    for match in _IDENTIFIER.finditer(text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(word)
    return names


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def dashboard_expressions(directory: Path = DASHBOARDS) -> list[Expression]:
    found = []
    for path in sorted(directory.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    where = f"dashboard {dashboard.get('uid')}, panel {panel.get('title')!r} {target.get('refId')}"
                    found.append(Expression(where, target["expr"]))
    return found


def _rules(path: Path = RULES) -> list[dict[str, Any]]:
    document = yaml.safe_load(path.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def rule_expressions(path: Path = RULES) -> list[Expression]:
    return [Expression(f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])) for rule in _rules(path)]


def recorded_names(path: Path = RULES) -> set[str]:
    """Series the rules record themselves (not in any scrape)."""
    return {rule["record"] for rule in _rules(path) if "record" in rule}


def all_expressions() -> list[Expression]:
    return dashboard_expressions() + rule_expressions()


def _base_name(name: str, histogram_bases: set[str]) -> tuple[str, bool]:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            base = name.removesuffix(suffix)
            if suffix == "_bucket" or base in histogram_bases or base.endswith(_UNIT_SUFFIXES):
                return base, True
    return name, False


def referenced_metrics() -> dict[str, MetricRef]:
    """Every metric the dashboard and the alert rules read, by the name a scrape shows."""
    expressions = all_expressions()
    skip = SYNTHETIC | recorded_names()
    written = [(expression, name) for expression in expressions
               for name in sorted(metric_names_in(expression.promql)) if name not in skip]
    histogram_bases = {name.removesuffix("_bucket") for _, name in written if name.endswith("_bucket")}
    uses: dict[tuple[str, bool], list[str]] = {}
    for expression, name in written:
        uses.setdefault(_base_name(name, histogram_bases), []).append(expression.where)
    return {
        name: MetricRef(
            name=name,
            histogram=histogram,
            process=_process(name),
            used_in=tuple(dict.fromkeys(where)),
        )
        for (name, histogram), where in sorted(uses.items())
    }


def _process(name: str) -> str:
    if name.startswith(ALERT_CONSUMER_PREFIX):
        return "alerts"
    if name.startswith(CRM_PREFIX):
        return "crm"
    return "collector" if name.startswith(COLLECTOR_PREFIX) else "worker"


def referenced_metric_names() -> set[str]:
    """The names of `referenced_metrics()`: histograms by their base name."""
    return set(referenced_metrics())


def referenced_histograms() -> set[str]:
    """The base names of the histograms among them."""
    return {name for name, ref in referenced_metrics().items() if ref.histogram}
