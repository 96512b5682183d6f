"""Prometheus metrics of the CRM write-back: module-level constants, low-cardinality labels.

``crm`` is ``hubspot`` or ``salesforce``; ``operation`` is ``upsert``, ``clear`` or ``setup``;
``reason`` comes from a fixed set. Never a lead id, an e-mail, a URL or a token.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CRM_RECORDS_WRITTEN = Counter(
    "leadstream_crm_records_written_total", "Lead records the CRM accepted (upserted, or cleared on erasure)",
    ["crm", "operation"])
CRM_CHANGES_COALESCED = Counter(
    "leadstream_crm_changes_coalesced_total", "Changes replaced by a newer state of the same lead before its write",
    ["crm"])
CRM_RECORDS_DEAD_LETTERED = Counter(
    "leadstream_crm_records_dead_lettered_total", "Lead records the CRM refused for good, written to the dead letters",
    ["crm"])
CRM_RECORDS_SKIPPED = Counter(
    "leadstream_crm_records_skipped_total",
    "Records not written: unreadable, another kind, or a lead the CRM cannot match (no e-mail)", ["crm", "reason"])
CRM_REQUESTS = Counter(
    "leadstream_crm_requests_total", "Requests sent to the CRM API, by answer status", ["crm", "operation", "status"])
CRM_FAILED_ATTEMPTS = Counter(
    "leadstream_crm_failed_attempts_total",
    "CRM requests that failed transiently and were retried (timeout, connection, server_error, rate_limited)",
    ["crm", "reason"])
CRM_BATCH_RECORDS = Histogram(
    "leadstream_crm_batch_records", "Records per CRM write request", ["crm"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 150, 200))
CRM_WRITE_SECONDS = Histogram(
    "leadstream_crm_write_seconds", "Time to complete one batch write, retries and rate-limit waits included",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0))
CRM_LEADS_WAITING = Gauge("leadstream_crm_leads_waiting", "Leads whose latest state waits for its coalescing window")

FAILURE_REASONS = ("timeout", "connection", "server_error", "rate_limited")
SKIP_REASONS = ("unreadable", "not_a_change", "no_identity")
OPERATIONS = ("upsert", "clear")


def start_at_zero(crm: str) -> None:
    """Create the CRM's labelled series at 0, so dashboards and increase() see the first write."""
    CRM_CHANGES_COALESCED.labels(crm)
    CRM_RECORDS_DEAD_LETTERED.labels(crm)
    CRM_BATCH_RECORDS.labels(crm)
    for operation in OPERATIONS:
        CRM_RECORDS_WRITTEN.labels(crm, operation)
    for reason in FAILURE_REASONS:
        CRM_FAILED_ATTEMPTS.labels(crm, reason)
    for reason in SKIP_REASONS:
        CRM_RECORDS_SKIPPED.labels(crm, reason)
