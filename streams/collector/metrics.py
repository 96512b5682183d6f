"""The collector's Prometheus metrics, in a registry of their own.

The collector counts the events it reads as ``leadstream_events_received_total`` with source
"collector" (the dashboard reads the workers' with ``job="leadstream-worker"``), and what it did
with them under ``leadstream_collector_*``: its own accounting is
received = accepted + rejected + consent_refused. Labels come from fixed sets.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector

from scoring import EventType
from streams.collector.webhook_auth import REFUSAL_REASONS
from streams.contracts.segment import RejectReason

REGISTRY = CollectorRegistry()  # separate: a process may hold a worker's metrics of the same names too
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

SOURCE = "collector"
ENDPOINTS = ("pixel", "track", "page", "screen", "identify", "group", "alias", "batch", "events", "form", "snippet",
             "segment_webhook", "rudderstack_webhook", "healthz", "metrics", "accounting", "other")
DESTINATIONS = ("segment", "rudderstack")  # the inbound webhook destinations (streams/collector/destinations.py)
UNAVAILABLE = "unavailable"  # Kafka did not take the event in time: the client is told to retry (503)
BUSY = "busy"  # too many pixel events still on their way to Kafka: the pixel answers 503
UNSIGNED_CLAIM = "unsigned_claim"  # a pixel naming a lead or a track event without a valid signature
TOO_MANY_EVENTS = "too_many_events"  # a request carrying more events than LEADSTREAM_COLLECTOR_MAX_BATCH_EVENTS
REJECT_REASONS = (*(reason.value for reason in RejectReason), UNAVAILABLE, BUSY, UNSIGNED_CLAIM, TOO_MANY_EVENTS)

REQUESTS = Counter("leadstream_collector_requests_total", "HTTP requests, by endpoint and status",
                   ["endpoint", "status"], registry=REGISTRY)
REQUEST_SECONDS = Histogram(
    "leadstream_collector_request_seconds", "Time to answer a request (the pixel answers before producing)",
    ["endpoint"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
EVENTS_RECEIVED = Counter("leadstream_events_received_total", "Inbound events, by where they came in and their type",
                          ["source", "type"], registry=REGISTRY)
EVENTS_ACCEPTED = Counter("leadstream_collector_events_accepted_total", "Events produced to leads.events.raw",
                          ["type"], registry=REGISTRY)
EVENTS_REJECTED = Counter("leadstream_collector_events_rejected_total",
                          "Events answered with an error and not produced, by reason", ["reason"], registry=REGISTRY)
CONSENT_REFUSED = Counter(
    "leadstream_collector_consent_refused_total",
    "Events with Do-Not-Track or consent=false: answered as usual, nothing kept but this count", ["endpoint"],
    registry=REGISTRY,
)
BOT_EVENTS = Counter("leadstream_collector_bot_events_total",
                     "Events from crawler or script user agents: produced, never scored, no cookie set", ["endpoint"],
                     registry=REGISTRY)
CLOCK_SKEW_CLAMPED = Counter(
    "leadstream_collector_clock_skew_clamped_total",
    "Events whose timestamp lay in the future beyond the allowed skew: set to the time received", registry=REGISTRY,
)
RATE_LIMITED = Counter("leadstream_collector_rate_limited_total",
                       "Requests answered 429 by a token bucket, by limit (client, write_key)", ["limit"],
                       registry=REGISTRY)
WEBHOOK_REFUSED = Counter(
    "leadstream_collector_webhook_refused_total",
    "Webhook destination requests answered 401 (no events read), by destination and reason", ["destination", "reason"],
    registry=REGISTRY,
)
UNKNOWN_TYPE = "invalid"


def _start_at_zero() -> None:
    for endpoint in ENDPOINTS:
        CONSENT_REFUSED.labels(endpoint=endpoint)
        BOT_EVENTS.labels(endpoint=endpoint)
    for reason in REJECT_REASONS:
        EVENTS_REJECTED.labels(reason=reason)
    for destination in DESTINATIONS:
        for refusal in REFUSAL_REASONS:
            WEBHOOK_REFUSED.labels(destination=destination, reason=refusal)
    for limit in ("client", "write_key"):
        RATE_LIMITED.labels(limit=limit)
    for event_type in (*(t.value for t in EventType), UNKNOWN_TYPE):
        EVENTS_RECEIVED.labels(source=SOURCE, type=event_type)
        EVENTS_ACCEPTED.labels(type=event_type)


_start_at_zero()


def _by_label(name: str, label: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == name and sample.value:
                totals[sample.labels[label]] = totals.get(sample.labels[label], 0) + int(sample.value)
    return dict(sorted(totals.items()))


def accounting() -> dict[str, Any]:
    """received = accepted + rejected + consent_refused, as one JSON-ready dict."""
    received = sum(_by_label("leadstream_events_received_total", "type").values())
    accepted = _by_label("leadstream_collector_events_accepted_total", "type")
    rejected = _by_label("leadstream_collector_events_rejected_total", "reason")
    refused = sum(_by_label("leadstream_collector_consent_refused_total", "endpoint").values())
    return {
        "received": received,
        "accepted": sum(accepted.values()),
        "rejected": sum(rejected.values()),
        "consent_refused": refused,
        "accepted_by_type": accepted,
        "rejected_by_reason": rejected,
        "bot_events": sum(_by_label("leadstream_collector_bot_events_total", "endpoint").values()),
        "clock_skew_clamped": int(sum(s.value for m in REGISTRY.collect() for s in m.samples
                                      if s.name == "leadstream_collector_clock_skew_clamped_total")),
        "balanced": received == sum(accepted.values()) + sum(rejected.values()) + refused,
    }
