"""Lead summaries on RocksDB: what a recovery rebuilds from them equals what decoding every lead gives."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from collections.abc import Callable
from itertools import count
from types import SimpleNamespace

import pytest

from scoring import ScoringModel
from streams.contracts.partitioning import partition_for
from streams.worker import lead_summaries, metrics, pipeline, state_store
from streams.worker.context import MemoryTable
from streams.worker.state_store import SUMMARIZERS, PartitionedStore
from tests.unit.builders import model, model_with
from tests.unit.pipeline_builders import (
    PARTITIONS, RecordingOutbox, Topology, hot_journey, identify, page, track, worker_context,
)
from tests.unit.test_state_store import _store

EVERY_PARTITION = set(range(PARTITIONS))


class AcknowledgingOutbox(RecordingOutbox):
    """Kafka acknowledging every record at once, at the next offset of its key's partition."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets = count()

    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   delivered: Callable[[int, int], None] | None = None) -> None:
        await super().send(topic, key, value)
        if delivered is not None:
            assert key is not None
            delivered(partition_for(key, PARTITIONS), next(self.offsets))


def _register(monkeypatch: pytest.MonkeyPatch, scoring_model: ScoringModel) -> list[bytes]:
    """The worker's summarizer for the leads table, under ``scoring_model``; returns the keys it was asked for."""
    asked: list[bytes] = []

    def summarize(key: bytes, record: bytes) -> bytes | None:
        asked.append(key)
        return lead_summaries.summary_of_record(key, record, scoring_model)

    monkeypatch.setitem(SUMMARIZERS, "leads", summarize)
    return asked


_JOURNEY_EVENTS = [*hot_journey("lead-hot", "hot@example.com"), identify("lead-new", "n-1", "new@example.com"),
                   page("lead-new", "n-2", "/pricing", minutes=1), identify("lead-quiet", "q-1", "quiet@example.com"),
                   track("lead-warm", "w-1", "Webinar Attended"), page("lead-warm", "w-2", "/blog", minutes=2)]


def _journeys(store: object) -> Topology:
    """Leads at several stages, scored by the pipeline with its leads table on ``store``."""
    plain = worker_context()
    context = replace(plain, outbox=AcknowledgingOutbox(),
                      leads=MemoryTable("leads", plain.leads.changelog, store))  # type: ignore[arg-type]
    topology = Topology(context)
    asyncio.run(topology.send(*_JOURNEY_EVENTS))
    return topology


def _rebuilt(store: object, scoring_model: ScoringModel) -> dict[bytes, tuple[int, lead_summaries.Summary]]:
    return {key: (partition, summary) for key, partition, summary
            in lead_summaries.owned_summaries(store, EVERY_PARTITION, PARTITIONS, scoring_model)}


def _reopened(tmp_path) -> PartitionedStore:
    return _store(tmp_path)


def test_a_restart_rebuilds_the_indexes_from_summaries_exactly_as_decoding_every_lead_would(tmp_path, monkeypatch):
    scoring_model = model()
    asked = _register(monkeypatch, scoring_model)
    store = _store(tmp_path)
    _journeys(store)
    assert asked == []  # the batch handed each lead's summary over: nothing was decoded to make one
    held = dict(store.items())
    assert len(held) == 4

    store._families.clear()
    store._dbs.clear()  # the process stops: what a new one opens on the same directory
    reopened = _reopened(tmp_path)
    from_summaries = _rebuilt(reopened, scoring_model)
    assert asked == []  # read, not decoded
    assert from_summaries == _rebuilt(held, scoring_model)  # the memory store's way: every record decoded
    assert {summary.bucket for _, summary in from_summaries.values()} >= {("sql", "hot"), ("iql", "cold")}


def test_the_worker_indexes_after_a_recount_match_what_its_batches_kept(tmp_path, monkeypatch):
    scoring_model = model()
    _register(monkeypatch, scoring_model)
    topology = _journeys(_store(tmp_path))
    context = topology.context
    kept = (context.census.totals(), {key: context.due_index.due_at(key) for key in context.leads.data},
            len(context.lead_index), len(context.revisit_queue))
    asyncio.run(pipeline.recount_leads(context, EVERY_PARTITION))
    recounted = (context.census.totals(), {key: context.due_index.due_at(key) for key in context.leads.data},
                 len(context.lead_index), len(context.revisit_queue))
    assert recounted == kept


def test_a_database_written_without_summaries_gets_them_once(tmp_path, monkeypatch):
    store = _store(tmp_path)
    _journeys(store)  # no summarizer registered: a release that kept none
    held = dict(store.items())
    store._dbs.clear()

    scoring_model = model()
    asked = _register(monkeypatch, scoring_model)
    reopened = _reopened(tmp_path)
    assert _rebuilt(reopened, scoring_model) == _rebuilt(held, scoring_model)
    assert sorted(asked) == sorted(held)  # each lead decoded once, to fill its summary in
    asked.clear()
    assert _rebuilt(reopened, scoring_model) == _rebuilt(held, scoring_model)
    assert asked == []


def _scored_store(tmp_path, monkeypatch, scoring_model: ScoringModel) -> tuple[PartitionedStore, dict[bytes, bytes]]:
    """A RocksDB leads store the pipeline scored the journeys into, under ``scoring_model``, and what it holds."""
    _register(monkeypatch, scoring_model)
    store = _store(tmp_path)
    _journeys(store)
    return store, dict(store.items())


def test_summaries_made_under_another_model_are_made_again_under_the_running_one(tmp_path, monkeypatch):
    first = model()
    store, held = _scored_store(tmp_path, monkeypatch, first)
    stricter = model_with(('version = "default-3"', 'version = "faster-decay"'), ("interest = 30", "interest = 5"))
    assert lead_summaries.fingerprint.of(stricter) != lead_summaries.fingerprint.of(first)
    assert _rebuilt(store, stricter) == _rebuilt(held, stricter)


def test_writes_not_yet_acknowledged_are_counted_and_a_staged_delete_hides_the_stored_lead(tmp_path, monkeypatch):
    scoring_model = model()
    store, held = _scored_store(tmp_path, monkeypatch, scoring_model)
    gone, staged = b"lead-quiet", b"lead-staged"
    del store[gone]  # its tombstone not acknowledged yet
    store.set_with_summary(staged, held[b"lead-new"],
                           lead_summaries.summary_of_record(staged, held[b"lead-new"], scoring_model))
    rebuilt = _rebuilt(store, scoring_model)
    assert gone not in rebuilt and staged in rebuilt
    assert rebuilt[staged][1] == rebuilt[b"lead-new"][1]


def test_records_restored_from_the_changelog_are_stored_with_their_summaries_and_offset(tmp_path, monkeypatch):
    scoring_model = model()
    source = _store(tmp_path / "source")
    _journeys(source)  # no summaries kept there: the records alone, as the changelog holds them
    held = dict(source.items())
    asked = _register(monkeypatch, scoring_model)
    restored = _store(tmp_path / "restored")
    changelog = restored.table.changelog_topic.get_topic_name()
    events = [SimpleNamespace(message=SimpleNamespace(partition=partition_for(key, PARTITIONS), key=key, value=value, timestamp=0.0,
                                                      offset=offset, tp=(changelog, partition_for(key, PARTITIONS))))
              for offset, (key, value) in enumerate(held.items())]
    events.append(SimpleNamespace(message=SimpleNamespace(
        partition=partition_for(b"lead-quiet", PARTITIONS), key=b"lead-quiet", value=None, offset=len(events), timestamp=0.0,
        tp=None)))  # a tombstone after it
    restored.apply_changelog_batch(events, None, None)
    assert sorted(asked) == sorted(held)
    asked.clear()
    expected = _rebuilt({key: value for key, value in held.items() if key != b"lead-quiet"}, scoring_model)
    assert _rebuilt(restored, scoring_model) == expected and asked == []
    quiet_partition = partition_for(b"lead-quiet", PARTITIONS)
    assert restored._dbs[quiet_partition].get(restored.offset_key) == str(len(held)).encode()


def test_only_tables_that_register_a_summarizer_keep_a_summaries_family(tmp_path, monkeypatch):
    monkeypatch.delitem(SUMMARIZERS, "leads", raising=False)
    store = _store(tmp_path)
    store[b"k"] = b"v"
    store.changelog_delivered(b"k", b"v")(partition_for(b"k", PARTITIONS), 0)
    assert store._families == {}
    assert state_store.SUMMARIES not in store._dbs[partition_for(b"k", PARTITIONS)].list_cf(
        str(store.partition_path(partition_for(b"k", PARTITIONS))))


def test_a_model_has_the_same_fingerprint_in_every_process():
    """String hashing differs per process: a fingerprint that followed set or dict order would never match on restart."""
    script = ("from streams.worker.lead_summaries import fingerprint; from tests.unit.builders import model, meddic_model;"
              "print(fingerprint.of(model()).hex(), fingerprint.of(meddic_model()).hex())")
    spelled = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True).stdout for seed in ("1", "2", "3")}
    assert len(spelled) == 1
    default, meddic = spelled.pop().split()
    assert default == lead_summaries.fingerprint.of(model()).hex() and default != meddic


def test_a_recount_reads_only_the_partitions_newly_owned_and_lets_go_of_the_lost_ones():
    topology = Topology()
    asyncio.run(topology.send(*_JOURNEY_EVENTS))
    context = topology.context
    every = _indexes(context)
    by_partition = {partition: set(context.lead_index.keys(partition)) for partition in EVERY_PARTITION}
    kept = next(partition for partition, keys in by_partition.items() if keys)
    decoded_before = metrics.LEAD_SUMMARIES_REMADE._value.get()

    asyncio.run(pipeline.recount_leads(context, {kept}))  # a rebalance left this worker one partition
    assert metrics.LEAD_SUMMARIES_REMADE._value.get() == decoded_before  # kept in step by the batches: none read
    census, due, index, _ = _indexes(context)
    assert sum(census.values()) == len(by_partition[kept]) == index
    assert set(due) == {key.decode() for key in by_partition[kept] if every[1].get(key.decode()) is not None}

    asyncio.run(pipeline.recount_leads(context, EVERY_PARTITION))  # and gave the others back
    assert metrics.LEAD_SUMMARIES_REMADE._value.get() - decoded_before == sum(
        len(keys) for partition, keys in by_partition.items() if partition != kept)
    assert _indexes(context) == every


def _indexes(context) -> tuple:
    due = {key.decode(): context.due_index.due_at(key) for partition in EVERY_PARTITION
           for key in context.lead_index.keys(partition)}
    return (context.census.totals(), {lead: at for lead, at in due.items() if at is not None}, len(context.lead_index),
            len(context.revisit_queue))



def test_a_recount_names_the_leads_it_read_that_were_classified_under_another_model(tmp_path, monkeypatch):
    scoring_model = model()
    _register(monkeypatch, scoring_model)
    topology = _journeys(_store(tmp_path))
    context = topology.context
    assert asyncio.run(pipeline.recount_leads(context, EVERY_PARTITION)) == []  # fresh after a restart: all read
    later = model_with(('version = "default-3"', 'version = "default-4"'))
    restarted = replace(context, model=lambda: later, lead_index=type(context.lead_index)())
    held = sorted(key for key, value in context.leads.data.items() if value)
    assert sorted(asyncio.run(pipeline.recount_leads(restarted, EVERY_PARTITION))) == held
    # The memory store's recount (every record decoded) names the same.
    in_memory = replace(restarted, leads=MemoryTable("leads", "changelog", dict(context.leads.data.items())),
                        lead_index=type(context.lead_index)())
    assert sorted(asyncio.run(pipeline.recount_leads(in_memory, EVERY_PARTITION))) == held
