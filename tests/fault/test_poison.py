"""Hostile input, straight to the raw topic and through the collector: every message ends in a bucket
with its reason, the accounting adds up to what was sent, and the worker keeps scoring. Then the
dead letters are listed and, the cause fixed, re-driven (and deduplicated when re-driven twice)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from tests.e2e.cli import leadstream_command
from tests.fault.harness import live_accounting, wait_until
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, identify, page, start_collector, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.asyncio(loop_scope="session")]
EVENT_LIMIT = 4096  # small, so a valid event of a few KB is dead-lettered until the limit is raised
LIMIT_ENV = {"LEADSTREAM_MAX_EVENT_BYTES": str(EVENT_LIMIT)}
REDRIVE_LEAD = "poison-redrive"
SCORED, DEDUPLICATED = "scored", "deduplicated"


def padded(message: dict[str, Any], size: int) -> dict[str, Any]:
    """``message`` with a note in its properties that brings it to about ``size`` bytes."""
    return {**message, "properties": {**message.get("properties", {}), "note": "x" * size}}


VALID = page("poison-a", "poison-a-1", "/pricing")
# (what it is, its bytes, its key, where it must end: a dead-letter reason or a bucket)
RAW_CORPUS: list[tuple[str, bytes | None, bytes | None, str]] = [
    ("valid", orjson.dumps(VALID), b"poison-a", SCORED),
    ("truncated", orjson.dumps(page("poison-a", "poison-a-2", "/product"))[:-9], b"poison-a", "malformed_json"),
    ("malformed", b'{"type": "page", userId: poison-a}', b"poison-a", "malformed_json"),
    ("malformed, again", b'{"type": "page", userId: poison-a}', b"poison-a", "malformed_json"),
    ("deeply nested array", b"[" * 3000, None, "malformed_json"),
    ("deeply nested properties", b'{"type":"page","userId":"poison-a","properties":' + b"[" * 1500 + b"]" * 1500
     + b"}", b"poison-a", "malformed_json"),
    ("non-UTF-8 value", b'{"type":"page","userId":"\xff\xfe"}', b"poison-a", "malformed_json"),
    ("empty value", b"", b"poison-a", "malformed_json"),
    ("tombstone (null value)", None, b"poison-a", "malformed_json"),
    ("array", b"[1, 2]", None, "not_an_object"),
    ("string", b'"hello"', None, "not_an_object"),
    ("null", b"null", None, "not_an_object"),
    ("number type", orjson.dumps({**VALID, "type": 42, "messageId": "t-1"}), None, "unknown_type"),
    ("unknown type", orjson.dumps({**VALID, "type": "purchase", "messageId": "t-2"}), None, "unknown_type"),
    ("no identity", orjson.dumps({"type": "page", "messageId": "t-3"}), None, "missing_identity"),
    ("userId an object", orjson.dumps({**VALID, "userId": {"id": 7}}), None, "invalid_field"),
    ("timestamp a number", orjson.dumps({**VALID, "messageId": "t-4", "timestamp": 1700000000}), None, "invalid_field"),
    ("timestamp before year 1 in UTC", orjson.dumps({**VALID, "messageId": "t-5",
                                                     "timestamp": "0001-01-01T00:00:00+14:00"}), None, "invalid_field"),
    ("properties a list", orjson.dumps({**VALID, "messageId": "t-6", "properties": ["x"]}), None, "invalid_field"),
    ("event name a list", orjson.dumps({**track("poison-a", "t-7", "x"), "event": ["Demo"]}), None, "invalid_field"),
    ("messageId a float", orjson.dumps({**VALID, "messageId": 1.5}), None, "invalid_field"),
    ("valid, non-UTF-8 key", orjson.dumps(page("poison-b", "poison-b-1", "/product")), b"\xff\xfe", SCORED),
    ("duplicate", orjson.dumps(VALID), b"poison-a", DEDUPLICATED),
    ("unmapped event name", orjson.dumps(track("poison-a", "poison-a-3", "Logged Out")), b"poison-a",
     "ignored:unmapped_event"),
    ("valid but over the limit", orjson.dumps(padded(identify(REDRIVE_LEAD, f"{REDRIVE_LEAD}-1", "r@acme.io"), 5000)),
     REDRIVE_LEAD.encode(), "oversized"),
    ("valid but over the limit", orjson.dumps(padded(track(REDRIVE_LEAD, f"{REDRIVE_LEAD}-2", "Demo Requested", 1),
                                                     5000)), REDRIVE_LEAD.encode(), "oversized"),
    ("huge (900 KB)", orjson.dumps(padded(page(REDRIVE_LEAD, "huge", "/"), 900_000)), REDRIVE_LEAD.encode(),
     "oversized"),
    ("valid, after all that", orjson.dumps(page("poison-a", "poison-a-4", "/pricing", 2)), b"poison-a", SCORED),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("poison")
    pipeline = await start_pipeline(kafka_bootstrap, log_dir, workers=1, env=LIMIT_ENV)
    collector = await start_collector(pipeline, log_dir, env=LIMIT_ENV)
    yield pipeline, collector
    collector.stop()
    await stop_pipeline(pipeline)


async def post(url: str, body: bytes) -> tuple[int, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            text = await response.text()
            return response.status, orjson.loads(text) if text.startswith(("{", "[")) else text


# (path, body, status, what the collector must count: reason -> events; "accepted" for those produced)
COLLECTOR_CORPUS: list[tuple[str, bytes, int, dict[str, int]]] = [
    ("/v1/batch", b'{"batch": [', 400, {"malformed_json": 1}),
    ("/v1/track", b"\xff\xfe", 400, {"malformed_json": 1}),
    ("/v1/page", b'{"userId": "poison-c", "properties": ' + b"[" * 2000 + b"]" * 2000 + b"}", 400,
     {"malformed_json": 1}),
    ("/v1/batch", orjson.dumps({"batch": [
        page("poison-c", "poison-c-1", "/pricing"),
        {"type": "page", "messageId": "c-2"},
        {**track("poison-c", "c-3", "x"), "event": ["Demo"]},
        "a string",
        {**page("poison-c", "c-4", "/"), "timestamp": "0001-01-01T00:00:00+14:00"},
        {**page("poison-c", "c-5", "/"), "userId": 2.5},
        padded(page("poison-c", "c-6", "/"), 6000),
        page("poison-c", "poison-c-1", "/pricing"),  # a duplicate: produced, deduplicated by the worker
    ]}), 400, {"accepted": 2, "missing_identity": 1, "invalid_field": 3, "not_an_object": 1, "oversized": 1}),
    ("/v1/batch", b'{"batch": ["' + b"x" * 600_000 + b'"]}', 413, {}),  # over the body limit: refused unread
]


async def test_hostile_input_is_dead_lettered_or_rejected_with_a_reason_and_the_accounting_adds_up(
    stack: tuple[RunningPipeline, Any], fault_outcome,
):
    pipeline, collector = stack
    for _, value, key, _ in RAW_CORPUS:
        await pipeline.producer.send_and_wait(pipeline.topic("leads.events.raw"), value, key=key)
    pipeline.sent += len(RAW_CORPUS)
    answers = [await post(collector.url + path, body) for path, body, _, _ in COLLECTOR_CORPUS]
    assert [status for status, _ in answers] == [status for _, _, status, _ in COLLECTOR_CORPUS], answers
    collector_expected: Counter[str] = Counter()
    for *_, counts in COLLECTOR_CORPUS:
        collector_expected.update(counts)
    _, taken = await collector.get_json("/accounting")
    assert taken["balanced"] and taken["accepted"] == collector_expected.pop("accepted"), taken
    assert taken["rejected_by_reason"] == dict(collector_expected), taken
    pipeline.sent += taken["accepted"]

    outcomes = Counter(outcome for *_, outcome in RAW_CORPUS)
    outcomes.update({SCORED: 1, DEDUPLICATED: 1})  # the collector's valid event and its duplicate
    accounting = await pipeline.settled_accounting()
    dead = {reason: count for reason, count in outcomes.items() if reason not in (SCORED, DEDUPLICATED)
            and not reason.startswith("ignored:")}
    assert accounting["received"] == pipeline.sent
    assert accounting["dead_lettered_by_reason"] == dead, accounting
    assert accounting["scored"] == outcomes[SCORED] and accounting["deduplicated"] == outcomes[DEDUPLICATED]
    assert accounting["ignored_by_reason"] == {"unmapped_event": 1}, accounting
    assert pipeline.worker.process.poll() is None and (await pipeline.worker.get_json("/healthz"))[0] == 200
    letters = await pipeline.recorder.wait_for(pipeline.topic("leads.events.dlq"),
                                               lambda records: len(records) >= sum(dead.values()))
    assert all(letter["reason"] and letter["detail"] for letter in letters)
    fault_outcome(
        "poison and hostile input", raw_messages_sent=len(RAW_CORPUS),
        collector_requests=len(COLLECTOR_CORPUS), collector_events_read=taken["received"],
        collector_accepted=taken["accepted"], collector_rejected=taken["rejected_by_reason"],
        worker_received=accounting["received"], scored=accounting["scored"],
        deduplicated=accounting["deduplicated"], ignored=accounting["ignored"],
        dead_lettered=accounting["dead_lettered_by_reason"], worker_alive=True,
    )


def leadstream(pipeline: RunningPipeline, *arguments: str) -> str:
    env = {"KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap, "LEADSTREAM_TOPIC_PREFIX": pipeline.prefix,
           "LEADSTREAM_APP_ID": f"leadstream-{pipeline.prefix[:-1]}", "LEADSTREAM_PARTITIONS": str(TEST_PARTITIONS)}
    run = subprocess.run([*leadstream_command(), *arguments], env={**os.environ, **env}, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


async def test_dead_letters_are_listed_by_reason_and_redriven_once_the_cause_is_fixed(
    stack: tuple[RunningPipeline, Any], fault_outcome,
):
    pipeline, _ = stack
    before = (await pipeline.worker.get_json("/accounting"))[1]["dead_lettered_by_reason"]
    listed = orjson.loads((await asyncio.to_thread(leadstream, pipeline, "dlq", "list", "--json")).splitlines()[-1])
    assert {group["reason"]: group["count"] for group in listed} == before
    assert all(group["samples"] and group["samples"][0]["detail"] for group in listed)

    # The cause is fixed: the limit is raised, and the worker restarted with it.
    worker = pipeline.worker
    worker.stop()
    worker.extra_env["LEADSTREAM_MAX_EVENT_BYTES"] = str(64 * 1024)
    worker.start()
    await worker.wait_ready()
    base = await live_accounting(pipeline)
    started = time.monotonic()
    out = await asyncio.to_thread(leadstream, pipeline, "dlq", "redrive", "--reason", "oversized", "--limit", "2")
    assert "re-drove 2 dead letters" in out, out

    async def scored() -> dict | None:
        accounting = await live_accounting(pipeline)
        return accounting if accounting["scored"] - base["scored"] >= 2 and accounting["balanced"] else None

    first = await wait_until(scored, 30, "the re-driven events to be scored")
    redrive_s = time.monotonic() - started
    status, lead = await pipeline.lead(REDRIVE_LEAD)
    assert status == 200 and {c["signal"] for c in lead["contributions"]} >= {"demo_request"}, lead

    await asyncio.to_thread(leadstream, pipeline, "dlq", "redrive", "--reason", "oversized", "--limit", "2")

    async def deduplicated() -> dict | None:
        accounting = await live_accounting(pipeline)
        return accounting if accounting["deduplicated"] - first["deduplicated"] >= 2 and accounting["balanced"] else None

    second = await wait_until(deduplicated, 30, "the events re-driven again to be deduplicated")
    assert second["scored"] == first["scored"]
    fault_outcome(
        "dead-letter tools (dlq list, dlq redrive)", reasons_listed={g["reason"]: g["count"] for g in listed},
        redriven=2, scored_after_redrive=first["scored"] - base["scored"],
        deduplicated_on_second_redrive=second["deduplicated"] - first["deduplicated"],
        redrive_to_scored_s=round(redrive_s, 1),
    )
