"""Prometheus metrics of the alerts consumer: module-level constants, low-cardinality labels.

``sink`` is ``console`` or ``webhook``; ``reason`` comes from a fixed set (see sinks.py and
change.py). Never a lead id or a URL.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ALERTS_DELIVERED = Counter("leadstream_alerts_delivered_total", "Alerts a sink accepted", ["sink"])
ALERT_ATTEMPTS_FAILED = Counter(
    "leadstream_alerts_failed_attempts_total",
    "Delivery attempts that failed (timeout, connection, server_error, rate_limited, rejected)",
    ["sink", "reason"],
)
ALERTS_DEAD_LETTERED = Counter(
    "leadstream_alerts_dead_lettered_total", "Alerts given up on and written to the dead letters", ["sink"]
)
ALERTS_DEDUPLICATED = Counter(
    "leadstream_alerts_deduplicated_total", "Alerting changes skipped because their change_id was already handled"
)
ALERT_DELIVERY_SECONDS = Histogram(
    "leadstream_alert_delivery_seconds",
    "Time to deliver one alert, retries and backoff included",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CHANGES_UNREADABLE = Counter(
    "leadstream_alerts_unreadable_total", "Qualification-topic records that could not be read", ["reason"]
)

FAILURE_REASONS = ("timeout", "connection", "server_error", "rate_limited", "rejected")


def start_at_zero(sink: str) -> None:
    """Create the sink's labelled series at 0, so dashboards and increase() see the first alert."""
    ALERTS_DELIVERED.labels(sink)
    ALERTS_DEAD_LETTERED.labels(sink)
    for reason in FAILURE_REASONS:
        ALERT_ATTEMPTS_FAILED.labels(sink, reason)
