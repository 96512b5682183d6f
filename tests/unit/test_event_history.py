"""EventHistory files and order: exports round-trip, leave erased leads out, and keep each partition's order."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from scoring import LeadEvent, Verdict
from scoring.replay import SalesVerdict
from streams.config.environment import settings_from
from streams.errors import ConfigError, HistoryError
from streams.ops.recorded_events import EventHistory, RawRecord, in_arrival_order, export_lines, read_jsonl
from streams.contracts.topic_admin import retention_ms

T = 1_767_225_600.0


def raw(partition: int, offset: int, at: float, lead: str, event_id: str) -> RawRecord:
    message = {"type": "page", "messageId": event_id, "userId": lead, "properties": {"path": "/pricing"}}
    return RawRecord(partition, offset, at, lead.encode(), orjson.dumps(message))


def test_records_keep_each_partitions_offset_order_and_interleave_by_broker_time_the_same_every_read():
    lane_a = [raw(0, 0, T + 5, "a", "a0"), raw(0, 1, T + 1, "a", "a1")]  # a producer's clock went back
    lane_b = [raw(1, 0, T + 2, "b", "b0"), raw(1, 1, T + 6, "b", "b1")]
    verdict = SalesVerdict("fb", "b", Verdict.REJECTED, T + 3)

    merged = list(in_arrival_order([*lane_b, *lane_a], [verdict]))

    assert [r.offset for r in merged if isinstance(r, RawRecord) and r.partition == 0] == [0, 1]
    assert merged.index(verdict) == merged.index(lane_b[0]) + 1
    tie = raw(0, 2, T + 6, "a", "a2")  # as late as b1 on the other partition: partition 0 goes first
    either_way = (list(in_arrival_order([*lane_a, tie, *lane_b], [verdict])),
                  list(in_arrival_order([*lane_b, tie, *lane_a], [verdict])))
    assert either_way[0] == either_way[1] and either_way[0][-2:] == [tie, lane_b[1]]


def test_an_export_round_trips_and_leaves_erased_and_unreadable_records_out(tmp_path: Path):
    records = (raw(0, 0, T, "kept", "k0"), raw(0, 1, T + 1, "gone", "g0"),
               RawRecord(0, 2, T + 2, None, b"{not json"), SalesVerdict("fb-1", "gone", Verdict.RECYCLE, T + 3),
               SalesVerdict("fb-2", "kept", Verdict.ACCEPTED, T + 4))
    lines, counts = export_lines(EventHistory(records, frozenset({"gone"}), "test"), 32 * 1024, exported_at=T + 10)
    (tmp_path / "h.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    back = read_jsonl([tmp_path / "h.jsonl"])

    assert counts == {"events": 1, "feedback": 1, "erased_left_out": 2, "unreadable_left_out": 1, "no_consent_left_out": 0}
    assert not any(b"gone" in line for line in lines)
    assert back.records == (records[0], records[4])
    decoded, rejected = back.decoded(32 * 1024)
    assert isinstance(decoded[0], LeadEvent) and decoded[0].event_id == "k0" and rejected == 0


def test_a_line_that_is_no_history_record_is_named(tmp_path: Path):
    (tmp_path / "h.jsonl").write_text('{"kind": "leadstream_history", "format": 1}\n{"kind": "event"}\n')

    with pytest.raises(HistoryError, match=r"h.jsonl:2: not a leadstream history record"):
        read_jsonl([tmp_path / "h.jsonl"])


def test_raw_retention_is_thirty_days_unless_set_and_can_be_forever():
    assert retention_ms("leads.events.raw", settings_from({})) == 30 * 86_400_000
    assert retention_ms("leads.events.raw", settings_from({"LEADSTREAM_RAW_RETENTION_DAYS": "90"})) == 90 * 86_400_000
    assert retention_ms("leads.events.raw", settings_from({"LEADSTREAM_RAW_RETENTION_DAYS": "-1"})) == -1
    assert retention_ms("leads.control", settings_from({})) == -1
    with pytest.raises(ConfigError, match="LEADSTREAM_RAW_RETENTION_DAYS"):
        settings_from({"LEADSTREAM_RAW_RETENTION_DAYS": "a month"})
