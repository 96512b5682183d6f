"""Event history for replay, calibration and reports: read from the topics, or from a JSON-lines export.

From the topics: every retained record of leads.events.raw and leads.feedback, read up to the
end offsets seen at the start, and the erased lead ids from the erasures table's changelog. The
reader has no consumer group at all (manual assignment, nothing committed): it starts from the
beginning every time, and can neither take partitions from the live workers nor move their
offsets. Records come in the order the live workers met them: each raw partition in offset
order, partitions merged by broker time, feedback at the time it was given.

`leadstream export` writes the same history as JSON lines, for calibration beyond the raw
topic's retention. It honours erasure: an erased lead's events and feedback are left out (and
its id is not written anywhere). An export is a copy that a later erasure cannot reach: export
again after erasures and delete the older files, as with any store of personal data.

    {"kind": "leadstream_history", "format": 1, "exported_at": "...", "events": N, "feedback": M}
    {"kind": "event", "partition": 3, "offset": 1042, "received_at": 1767225600.123, "key": "lead-1",
     "raw": "<the record's value, exactly as received>"}
    {"kind": "feedback", "feedback_id": "...", "lead_id": "...", "verdict": "rejected", "at": 1767225600.5}
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from scoring import LeadEvent, Verdict
from scoring.replay import HistoryRecord, SalesVerdict
from streams.contracts.encoding import iso_time
from streams.config.environment import Settings
from streams.errors import HistoryError
from streams.contracts.lead_event_records import ErasedIds, erased_digests
from streams.contracts.consent import OPT_OUT, ConsentPolicy
from streams.contracts.segment import decode_segment
from streams.contracts.topics import FEEDBACK, RAW_EVENTS

FORMAT = 1


@dataclass(frozen=True)
class RawRecord:
    """One record of leads.events.raw as the broker holds it."""

    partition: int
    offset: int
    received_at: float  # the broker timestamp, epoch seconds: what decoding falls back to
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class EventHistory:
    records: tuple[RawRecord | SalesVerdict, ...]  # in the order the live workers met them
    erased: frozenset[str]  # ids erased so far, ``id in erased`` (digests: ErasedIds); empty for an export
    source: str

    def decoded(self, max_event_bytes: int, consent: ConsentPolicy = OPT_OUT) -> tuple[list[HistoryRecord], int]:
        """The records as the scoring core reads them (under the worker's consent rule), and how many the live
        worker dead-lettered."""
        decoded: list[HistoryRecord] = []
        rejected = 0
        for record in self.records:
            if isinstance(record, SalesVerdict):
                decoded.append(record)
                continue
            event = decode_segment(record.value, record.received_at, max_event_bytes, consent)
            if isinstance(event, LeadEvent):
                decoded.append(event)
            else:
                rejected += 1
        return decoded, rejected


def erasures_changelog(config: Settings) -> str:
    return f"{config.app_id}-erasures-changelog"  # Faust names a table's changelog <app id>-<table>-changelog


async def read_topics(config: Settings) -> EventHistory:
    raw = await read_whole(config, config.topic_prefix + RAW_EVENTS)
    feedback = await read_whole(config, config.topic_prefix + FEEDBACK)
    erased = await read_whole(config, erasures_changelog(config))
    latest: dict[bytes, bytes | None] = {}
    for record in erased:
        latest[record.key] = record.value
    verdicts = sorted((_verdict(orjson.loads(r.value)) for r in feedback if r.value), key=lambda v: v.at)
    return EventHistory(
        records=tuple(in_arrival_order(raw, verdicts)),
        erased=ErasedIds(*erased_digests(key for key, value in latest.items() if key and value)),
        source=f"topics {config.topic_prefix}{RAW_EVENTS} and {config.topic_prefix}{FEEDBACK} on"
               f" {config.bootstrap_servers}",
    )


async def read_whole(config: Settings, topic: str) -> list[RawRecord]:
    """Every record the topic holds now, each partition in offset order; none if it does not exist."""
    partitions = [TopicPartition(topic, p) for p in await _partitions(config, topic)]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False,
                                client_id=f"{config.app_id}-history", **config.security.client_kwargs())
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[RawRecord] = []
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            for tp, batch in (await consumer.getmany(*pending, timeout_ms=1000)).items():
                records.extend(RawRecord(tp.partition, r.offset, r.timestamp / 1000.0, r.key, r.value)
                               for r in batch if r.offset < ends[tp])
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()


async def _partitions(config: Settings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers, client_id=f"{config.app_id}-history",
                                **config.security.client_kwargs())
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            return []
        (description,) = await admin.describe_topics([topic])
        return sorted(partition["partition"] for partition in description["partitions"])
    finally:
        await admin.close()


def in_arrival_order(raw: list[RawRecord], verdicts: list[SalesVerdict]) -> Iterator[RawRecord | SalesVerdict]:
    by_partition: dict[int, list[RawRecord]] = {}
    for record in raw:
        by_partition.setdefault(record.partition, []).append(record)
    lanes = [sorted(by_partition[p], key=lambda r: r.offset) for p in sorted(by_partition)]
    # heapq.merge keeps each lane's own order: a partition is never reordered, only interleaved;
    # equal times go lowest partition first, so the same records always come in the same order.
    return heapq.merge(*lanes, verdicts, key=lambda r: r.at if isinstance(r, SalesVerdict) else r.received_at)


def _verdict(data: dict[str, Any]) -> SalesVerdict:
    at = data["at"]
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() if isinstance(at, str) else float(at)
    return SalesVerdict(data["feedback_id"], data["lead_id"], Verdict(data["verdict"]), moment)


# --- JSON lines ----------------------------------------------------------------------------


def read_jsonl(paths: Iterable[Path]) -> EventHistory:
    records: list[RawRecord | SalesVerdict] = []
    for path in paths:
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise HistoryError(f"history file {path}: cannot be read: {exc.strerror}") from None
        for number, line in enumerate(lines, 1):
            if line.strip():
                record = _from_line(line, f"{path}:{number}")
                if record is not None:
                    records.append(record)
    return EventHistory(records=tuple(records), erased=frozenset(), source=", ".join(str(p) for p in paths))


def _from_line(line: bytes, where: str) -> RawRecord | SalesVerdict | None:
    try:
        data = orjson.loads(line)
        if data["kind"] == "event":
            key = data.get("key")
            return RawRecord(data["partition"], data["offset"], float(data["received_at"]),
                             key.encode() if isinstance(key, str) else None, data["raw"].encode())
        if data["kind"] == "feedback":
            return _verdict(data)
        if data["kind"] == "leadstream_history":
            if data.get("format") != FORMAT:
                raise HistoryError(f"{where}: export format {data.get('format')!r}; this version reads {FORMAT}")
            return None
        raise ValueError(f"unknown kind {data['kind']!r}")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise HistoryError(f"{where}: not a leadstream history record: {exc}") from None


def export_lines(
    history: EventHistory, max_event_bytes: int, exported_at: float, consent: ConsentPolicy = OPT_OUT,
) -> tuple[list[bytes], dict[str, int]]:
    """The export's lines (header first) and what went in or was left out."""
    body: list[bytes] = []
    counts = {"events": 0, "feedback": 0, "erased_left_out": 0, "unreadable_left_out": 0, "no_consent_left_out": 0}
    for record in history.records:
        if isinstance(record, SalesVerdict):
            if record.lead_id in history.erased:
                counts["erased_left_out"] += 1
                continue
            body.append(orjson.dumps({"kind": "feedback", "feedback_id": record.feedback_id,
                                      "lead_id": record.lead_id, "verdict": record.verdict.value, "at": record.at}))
            counts["feedback"] += 1
            continue
        event = decode_segment(record.value, record.received_at, max_event_bytes, consent)
        if not isinstance(event, LeadEvent):
            counts["unreadable_left_out"] += 1  # dead-lettered live: it never scored, and names no lead
            continue
        if not event.consent:
            counts["no_consent_left_out"] += 1  # ignored live: not ours to copy into a file
            continue
        if event.lead_id in history.erased:
            counts["erased_left_out"] += 1
            continue
        body.append(orjson.dumps({
            "kind": "event", "partition": record.partition, "offset": record.offset,
            "received_at": record.received_at, "key": record.key.decode("utf-8", "replace") if record.key else None,
            "raw": record.value.decode("utf-8"),
        }))
        counts["events"] += 1
    header = orjson.dumps({"kind": "leadstream_history", "format": FORMAT, "exported_at": iso_time(exported_at),
                           "events": counts["events"], "feedback": counts["feedback"]})
    return [header, *body], counts
