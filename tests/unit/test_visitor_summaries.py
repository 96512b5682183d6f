"""Visitor summaries on RocksDB: the recount after a restart reads them, and finds what decoding every visitor finds."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from prometheus_client import REGISTRY

from streams.contracts import command_records
from streams.worker import stitching, visitor_summaries
from streams.worker.context import MemoryTable, WorkerContext
from streams.worker.state_store import SUMMARIZERS
from tests.unit.pipeline_builders import Topology, identify_visitor, visit, worker_context
from tests.unit.test_lead_summaries import AcknowledgingOutbox
from tests.unit.test_state_store import _store
from tests.unit.test_visitor_expiry import EVERY_PARTITION, T0, TTL, counted, seen

REMADE = "leadstream_visitor_summaries_remade_total"


def _register(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The worker's summarizer for the visitors table; returns the keys it was asked for."""
    asked: list[bytes] = []

    def summarize(key: bytes, record: bytes) -> bytes | None:
        asked.append(key)
        return visitor_summaries.summary_of_record(key, record)

    monkeypatch.setitem(SUMMARIZERS, "visitors", summarize)
    return asked


def _on(store: object, outbox: object = None) -> WorkerContext:
    plain = worker_context()
    return replace(plain, outbox=outbox or plain.outbox,
                   visitors=MemoryTable("visitors", plain.visitors.changelog, store))  # type: ignore[arg-type]


def _visits(store: object) -> Topology:
    """Visitors holding events, one linked to a lead, one erased, with the visitors table on ``store``."""
    topology = Topology(_on(store, AcknowledgingOutbox()))
    seen(topology, visit("v-1", "e-1", "/pricing"), T0)
    seen(topology, visit("v-1", "e-2", "/docs"), T0 + 1)
    seen(topology, visit("v-2", "e-3", "/pricing"), T0 + 5)
    seen(topology, visit("v-3", "e-4", "/pricing"), T0 + 6)
    seen(topology, identify_visitor("lead-3", "v-3", "e-5", "three@acme.io"), T0 + 7)
    seen(topology, visit("v-4", "e-6", "/pricing"), T0 + 8)
    asyncio.run(topology.command(b"v-4", command_records.encode_command(command_records.ERASE, "v-4", T0 + 9)))
    return topology


def _figures(context: WorkerContext) -> tuple[tuple[int, int], dict[str, float | None]]:
    return counted(context), {visitor: context.visitor_expiry.due_at(visitor) for visitor in ("v-1", "v-2", "v-3")}


def _recounted(store: object) -> tuple[tuple[int, int], dict[str, float | None]]:
    """What a new process finds in ``store`` after its recovery."""
    context = _on(store)
    stitching.recount_held(context, EVERY_PARTITION)
    return _figures(context)


def _remade() -> float:
    return REGISTRY.get_sample_value(REMADE) or 0.0


def test_a_restart_recounts_from_summaries_exactly_as_decoding_every_visitor_would(tmp_path, monkeypatch):
    asked = _register(monkeypatch)
    store = _store(tmp_path, table_name="visitors")
    topology = _visits(store)
    assert asked == []  # every write handed its summary over: nothing was decoded to make one
    kept = _figures(topology.context)
    assert kept == ((2, 3), {"v-1": T0 + 1 + TTL, "v-2": T0 + 5 + TTL, "v-3": T0 + 7 + TTL})
    held = dict(store.items())
    assert sorted(held) == [b"v-1", b"v-2", b"v-3"]

    store._families.clear()
    store._dbs.clear()  # the process stops: what a new one opens on the same directory
    reopened = _store(tmp_path, table_name="visitors")
    before = _remade()
    assert _recounted(reopened) == kept
    assert asked == [] and _remade() == before  # read, not decoded
    assert _recounted(held) == kept  # the memory store's way: every record decoded
    assert _remade() == before + len(held)


def test_a_visitor_written_without_a_summary_is_decoded_for_the_recount(tmp_path, monkeypatch):
    monkeypatch.delitem(SUMMARIZERS, "visitors", raising=False)
    store = _store(tmp_path, table_name="visitors")
    _visits(store)  # no summarizer registered: a release that kept none
    held = dict(store.items())
    store._dbs.clear()

    asked = _register(monkeypatch)
    assert _recounted(_store(tmp_path, table_name="visitors")) == _recounted(held)
    assert sorted(asked) == sorted(held)  # each decoded once, to fill its summary in


def test_a_summary_of_another_layout_is_not_read():
    summary = visitor_summaries.VisitorSummary(T0, 3)
    assert visitor_summaries.decode(visitor_summaries.encode(summary)) == summary
    assert visitor_summaries.decode(b"\x02" + visitor_summaries.encode(summary)[1:]) is None
    assert visitor_summaries.decode(visitor_summaries.encode(summary) + b"\x00") is None
