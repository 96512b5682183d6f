"""The failover benchmark's loss check: an event the uninterrupted run scored and the faulted run forgot is lost."""

from __future__ import annotations

from datetime import datetime, timezone

from bench.failover import compare, phases, probe_leads
from scoring import LeadState
from scoring.dedupe import event_hash
from streams.contracts import lead_records
from streams.contracts.partitioning import partition_for


def record(lead_id: str, *event_ids: str) -> bytes:
    state = LeadState(lead_id=lead_id, identified=True, recent_event_ids=tuple(map(event_hash, event_ids)))
    return lead_records.encode_lead(state)


def test_a_run_that_remembers_every_scored_event_and_no_other_lost_nothing():
    reference = {b"a": record("a", "a-1", "a-2"), b"b": record("b", "b-1")}
    loss = compare(reference, {b"b": record("b", "b-1"), b"a": record("a", "a-2", "a-1"), b"x": record("x", "x-1")})
    assert (loss.leads, loss.events, loss.missing, loss.unexpected, loss.leads_missing) == (2, 3, 0, 0, 0)


def test_forgotten_extra_and_absent_events_are_each_counted():
    reference = {b"a": record("a", "a-1", "a-2"), b"b": record("b", "b-1", "b-2"), b"c": record("c", "c-1")}
    loss = compare(reference, {b"a": record("a", "a-1"), b"b": record("b", "b-1", "b-2", "b-3")})
    assert (loss.events, loss.missing, loss.unexpected, loss.leads_missing) == (5, 2, 1, 1)
    assert loss.examples == ["a: 1 missing, 0 unexpected", "b: 0 missing, 1 unexpected", "c: no record"]


def test_one_identified_lead_is_probed_per_partition():
    pairs = [(f"v{n}".encode(), b"") for n in range(50)] + [(f"lead-{n}".encode(), b"") for n in range(200)]
    chosen = probe_leads(pairs, 8)
    assert sorted(chosen) == list(range(8))
    assert all(lead.startswith("lead-") and partition_for(lead.encode(), 8) == p for p, lead in chosen.items())


def test_the_survivors_phases_are_read_from_its_log_after_the_kill_in_order():
    log = "\n".join([
        "[2026-12-06 15:33:50,000] [1] [INFO] Revoking previously assigned partitions",  # before the kill
        "[2026-12-06 15:33:50,100] [1] [INFO] [^---Recovery]: Seek stream partitions to committed offsets.",
        "    a traceback line",
        "[2026-12-06 15:33:58,212] [1] [INFO] Revoking previously assigned partitions",
        "[2026-12-06 15:33:58,542] [1] [INFO] [^---Recovery]: Restore complete!",
        "[2026-12-06 15:34:09,558] [1] [INFO] [^---Recovery]: Seek stream partitions to committed offsets.",
        "[2026-12-06 15:34:30,000] [1] [INFO] Revoking previously assigned partitions",
    ])
    killed = datetime(2026, 12, 6, 15, 33, 52, 600000, tzinfo=timezone.utc).timestamp()
    assert phases(log, killed) == {"rebalance": 5.6, "recovered": 5.9, "indexes rebuilt": 17.0}
