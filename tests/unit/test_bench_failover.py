"""The failover benchmark's loss check: an event the uninterrupted run scored and the faulted run forgot is lost."""

from __future__ import annotations

from bench.failover import compare, probe_leads
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
