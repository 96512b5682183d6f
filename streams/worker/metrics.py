"""Prometheus metrics, and the event accounting (docs/design.md §3) read back from them.

received = scored + ignored + deduplicated + dead_lettered + held, counted per process; a worker
that lost partitions in a rebalance also counts the held events that went with them (handed_over).
Labels are low-cardinality by construction: reasons and stages come from fixed enums.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from scoring import EventType, IgnoreReason, Stage, Temperature
from scoring.kinds import DealOutcome
from streams.contracts.segment import RejectReason

RAW_TOPIC = "raw_topic"  # a source label: read from leads.events.raw (the collector counts its own)
HANDOVER = "handover"  # a source label: held events of a partition taken over from another worker

EVENTS_RECEIVED = Counter(
    "leadstream_events_received_total", "Inbound events, by where they came in and their Segment type",
    ["source", "type"],
)
LEAD_SUMMARIES_REMADE = Counter(
    "leadstream_lead_summaries_remade_total",
    "Leads decoded by a recount because no summary made under the running model was kept beside them"
    " (every lead on the memory store; on RocksDB only after an upgrade or a model change)")
VISITOR_SUMMARIES_REMADE = Counter(
    "leadstream_visitor_summaries_remade_total",
    "Anonymous visitors decoded by a recount because no summary was kept beside them"
    " (every visitor on the memory store; on RocksDB only after an upgrade)")
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
# Held events move with their partition when a rebalance does: the new owner counts them as
# received (source "handover"), the old one as handed over, so each worker's sum adds up.
EVENTS_HANDED_OVER = Counter(
    "leadstream_events_handed_over_total", "Held anonymous events whose partition moved to another worker"
)
VISITORS_STITCHED = Counter(
    "leadstream_visitors_stitched_total", "Anonymous visitors linked to a lead whose held history was released"
)
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
ACCOUNT_CHANGES = Counter(
    "leadstream_account_changes_total", "Account temperature changes emitted", ["from_temperature", "to_temperature"]
)
DEMOTIONS = Counter(
    "leadstream_demotions_total", "Qualification changes caused by decay, emitted at their crossing time"
)
DUE_LEADS = Gauge("leadstream_demotion_index_leads", "Leads this worker watches for a coming demotion or revisit")
REVISITS_DUE = Counter(
    "leadstream_revisits_due_total",
    "Weak leads that came due for another look (revisit_due records emitted), by why they are in the pool",
    ["reason"],
)
REVISIT_QUEUE = Gauge(
    "leadstream_revisit_queue_leads", "Leads of this worker's partitions due for a revisit that nobody has acted on since"
)
DUE_ACCOUNTS = Gauge("leadstream_account_timer_accounts", "Accounts this worker watches for a coming cooling")
# Event time can be days old (late or replayed events), so its buckets reach far.
EVENT_LATENCY = Histogram(
    "leadstream_qualification_event_latency_seconds",
    "From the causing event's own time to its qualification change being emitted",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 604800),
)
INGEST_LATENCY = Histogram(
    "leadstream_qualification_ingest_latency_seconds",
    "From the broker receiving the causing event to its qualification change being emitted",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
GC_PAUSES = Histogram(
    "leadstream_gc_pause_seconds",
    "How long each cyclic garbage collection held the worker (see streams/worker/gc_pause.py)",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
CONSUMER_LAG = Gauge(
    "leadstream_consumer_lag", "End offset minus committed offset, per partition this worker owns",
    ["topic", "partition"],
)
PARTITIONS_REREAD = Counter(
    "leadstream_partitions_reread_total",
    "Partitions read again from their committed offset because Faust fetched records it never delivered",
)
BULK_RECORDS_DROPPED = Counter(
    "leadstream_bulk_records_dropped_total",
    "Fetched records set aside unhandled because a rebalance came first; they are read again after it",
)
BULK_BATCHES_FAILED = Counter(
    "leadstream_bulk_batches_failed_total",
    "Batches whose handling raised: the worker stops, recovers its tables when restarted and reads them again",
)
# Not an event bucket: the event that led to the record was already counted where it ended.
OUTPUTS_DEAD_LETTERED = Counter(
    "leadstream_outputs_dead_lettered_total",
    "Records the worker wrote that Kafka refused as too large, sent to the dead-letter topic instead",
    ["topic"],
)
# GET /leads and the board rank leads from the lead index (streams/worker/lead_index.py); a lead is
# decoded only when its bounds cannot rule it out, so this grows by about the limit per list, not the leads held.
LIST_LEADS_DECODED = Counter(
    "leadstream_list_leads_decoded_total", "Leads decoded to answer GET /leads, the board's hot list included"
)
BOARD_STREAMS = Gauge("leadstream_board_streams", "Open board event streams (server-sent events) on this worker")
BOARD_STREAMS_REFUSED = Counter(
    "leadstream_board_streams_refused_total", "Board event streams refused with 503: LEADSTREAM_BOARD_MAX_STREAMS open"
)
BOARD_STREAMS_DROPPED = Counter(
    "leadstream_board_streams_dropped_total", "Board event streams dropped for falling behind"
)
MODEL_INFO = Gauge("leadstream_model_info", "The scoring model in use (value 1)", ["version", "framework"])
SHADOW_CHANGES = Counter(
    "leadstream_shadow_changes_total", "Changes the shadow model made (leads.qualification.shadow), re-sends included"
)
MODEL_RECLASSIFIED = Counter(
    "leadstream_model_reclassified_leads_total", "Held leads re-classified under a newly applied model"
)
# CRM outcomes joined to the lead's stage history when they arrive. Win rate per stage in PromQL:
# sum by (stage) (increase(..._by_stage_total{outcome="won"}[30d])) / sum by (stage) (increase(
# ..._by_stage_total{outcome=~"won|lost"}[30d])). A lead counts under every stage it held.
OUTCOMES = Counter("leadstream_outcomes_total", "CRM outcomes joined to a lead's history", ["outcome"])
OUTCOMES_BY_STAGE = Counter(
    "leadstream_outcomes_by_stage_total", "CRM outcomes, under every stage the lead had held", ["outcome", "stage"]
)
OUTCOMES_BY_TEMPERATURE = Counter(
    "leadstream_outcomes_by_temperature_total", "CRM outcomes, by the hottest temperature the lead had reached",
    ["outcome", "temperature"],
)
OUTCOMES_BY_SIGNAL = Counter(
    "leadstream_outcomes_by_signal_total", "CRM outcomes, under every signal kind the lead had shown",
    ["outcome", "signal"],
)


def _start_at_zero() -> None:
    """Create every labelled child at 0, so rate() and increase() see the first event of each."""
    for reason in IgnoreReason:
        EVENTS_IGNORED.labels(reason=reason.value)
    for rejection in RejectReason:
        EVENTS_DEAD_LETTERED.labels(reason=rejection.value)
    for event_type in (*(t.value for t in EventType), "invalid"):
        EVENTS_RECEIVED.labels(source=RAW_TOPIC, type=event_type)
    EVENTS_RECEIVED.labels(source=HANDOVER, type="held")
    for outcome in DealOutcome:
        OUTCOMES.labels(outcome=outcome.value)
        for stage in Stage:
            OUTCOMES_BY_STAGE.labels(outcome=outcome.value, stage=stage.value)
        for temperature in Temperature:
            OUTCOMES_BY_TEMPERATURE.labels(outcome=outcome.value, temperature=temperature.value)


_start_at_zero()


ACCOUNTING_METRICS = frozenset({
    "leadstream_events_received_total", "leadstream_events_scored_total", "leadstream_events_ignored_total",
    "leadstream_events_deduplicated_total", "leadstream_events_dead_lettered_total", "leadstream_events_held",
    "leadstream_events_handed_over_total",
})


def _accounting_samples(registry: CollectorRegistry) -> dict[str, list[Any]]:
    """The accounting's samples by name, from one pass over the registry (each pass collects every metric)."""
    samples: dict[str, list[Any]] = {name: [] for name in ACCOUNTING_METRICS}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name in samples:
                samples[sample.name].append(sample)
    return samples


def _by_label(samples: list[Any], label: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for sample in samples:
        if sample.value:
            totals[sample.labels[label]] = totals.get(sample.labels[label], 0) + int(sample.value)
    return dict(sorted(totals.items()))


def accounting(registry: CollectorRegistry = REGISTRY) -> dict[str, Any]:
    """The event accounting as one JSON-ready dict, with whether it adds up."""
    samples = _accounting_samples(registry)

    def value(name: str) -> int:
        return int(sum(sample.value for sample in samples[name]))

    ignored = _by_label(samples["leadstream_events_ignored_total"], "reason")
    dead_lettered = _by_label(samples["leadstream_events_dead_lettered_total"], "reason")
    buckets = {
        "received": value("leadstream_events_received_total"),
        "scored": value("leadstream_events_scored_total"),
        "ignored": sum(ignored.values()),
        "deduplicated": value("leadstream_events_deduplicated_total"),
        "dead_lettered": sum(dead_lettered.values()),
        "held": value("leadstream_events_held"),
        "handed_over": value("leadstream_events_handed_over_total"),
    }
    accounted = sum(count for bucket, count in buckets.items() if bucket != "received")
    return {
        **buckets,
        "received_by_source": _by_label(samples["leadstream_events_received_total"], "source"),
        "ignored_by_reason": ignored,
        "dead_lettered_by_reason": dead_lettered,
        "in_flight": buckets["received"] - accounted,
        "balanced": buckets["received"] == accounted,
    }
