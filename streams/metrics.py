"""Prometheus metrics, and the event accounting of DESIGN.md §3 read back from them.

received = scored + ignored + deduplicated + dead_lettered + held, counted per process.
Labels are low-cardinality by construction: reasons and stages come from fixed enums.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

EVENTS_RECEIVED = Counter("leadstream_events_received_total", "Inbound events read from the raw topic")
EVENTS_SCORED = Counter("leadstream_events_scored_total", "Events applied to a lead's score")
EVENTS_IGNORED = Counter(
    "leadstream_events_ignored_total", "Events accounted for without scoring", ["reason"]
)
EVENTS_DEDUPLICATED = Counter(
    "leadstream_events_deduplicated_total", "Redelivered or repeated events recognised by id"
)
EVENTS_DEAD_LETTERED = Counter(
    "leadstream_events_dead_lettered_total", "Unreadable events sent to the dead-letter topic", ["reason"]
)
EVENTS_HELD = Gauge("leadstream_events_held", "Anonymous events held awaiting identification")
SIGNALS_FORWARDED = Counter(
    "leadstream_signals_forwarded_total", "Events repartitioned by lead id through the signals topic"
)
QUALIFICATION_CHANGES = Counter(
    "leadstream_qualification_changes_total",
    "Qualification changes emitted",
    ["from_stage", "to_stage", "from_temperature", "to_temperature"],
)
QUALIFICATION_REEMITTED = Counter(
    "leadstream_qualification_changes_reemitted_total",
    "Changes emitted again for a redelivered event (same id; consumers deduplicate)",
)


def _by_label(registry: CollectorRegistry, name: str, label: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == name and sample.value:
                totals[sample.labels[label]] = totals.get(sample.labels[label], 0) + int(sample.value)
    return dict(sorted(totals.items()))


def accounting(registry: CollectorRegistry = REGISTRY) -> dict[str, Any]:
    """The event accounting as one JSON-ready dict, with whether it adds up."""
    def value(name: str) -> int:
        return int(registry.get_sample_value(name) or 0)

    ignored = _by_label(registry, "leadstream_events_ignored_total", "reason")
    dead_lettered = _by_label(registry, "leadstream_events_dead_lettered_total", "reason")
    buckets = {
        "received": value("leadstream_events_received_total"),
        "scored": value("leadstream_events_scored_total"),
        "ignored": sum(ignored.values()),
        "deduplicated": value("leadstream_events_deduplicated_total"),
        "dead_lettered": sum(dead_lettered.values()),
        "held": value("leadstream_events_held"),
    }
    accounted = sum(count for bucket, count in buckets.items() if bucket != "received")
    return {
        **buckets,
        "ignored_by_reason": ignored,
        "dead_lettered_by_reason": dead_lettered,
        "in_flight": buckets["received"] - accounted,
        "balanced": buckets["received"] == accounted,
    }
