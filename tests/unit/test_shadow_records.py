"""The shadow's records on leads.control: the shadow put on and switched off, and the workers' reports of it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import orjson

from streams.contracts import control_records
from tests.contracts import assert_matches_contract
from tests.unit.builders import T0


def test_a_shadow_record_meets_its_contract_and_reads_back_on_and_off():
    text = (Path(__file__).parents[2] / "scoring" / "default_model.toml").read_text()
    on = _control_record(control_records.SHADOW_KEY, control_records.encode_model_shadow(text, "default-3", T0), 7)
    off = _control_record(control_records.SHADOW_KEY, control_records.encode_model_shadow(None, None, T0 + 1), 8)
    for record in (on, off):
        assert_matches_contract("leads.control", orjson.loads(record.value))
    state = control_records.ControlState()
    state.take(on)
    assert state.shadow is not None and state.shadow.model is not None
    assert (state.shadow.model.version, state.shadow.offset, state.applied) == ("default-3", 7, None)
    state.take(off)
    assert state.shadow is not None and state.shadow.model is None


def test_a_worker_report_names_the_shadow_it_runs():
    report = control_records.WorkerReport(
        worker="http://10.0.0.7:6066", host="w7", pid=42, version="acme-1", digest="sha256:" + "ab" * 32,
        source="LEADSTREAM_MODEL=/etc/leadstream/acme.toml", applied_offset=None, refused=None, reported_at=T0,
        shadow={"version": "acme-2", "digest": "sha256:" + "cd" * 32, "offset": 9})
    raw = control_records.encode_worker_report(report)
    assert_matches_contract("leads.control", orjson.loads(raw))
    assert control_records.worker_report_from(raw).shadow == report.shadow


def _control_record(key: bytes, value: bytes, offset: int) -> SimpleNamespace:
    return SimpleNamespace(key=key, value=value, offset=offset)
