"""A changelog the previous release (0.2.0: JSON table records) wrote recovers into this release's worker.

``data/release_0_2_0_changelog.json`` is every table a 0.2.0 worker left after a 400-event workload on
four partitions (its leads in state format 4, visitors, accounts and the e-mail index, all JSON),
captured from 0.2.0's own code. Here they are put on a new app's changelog topics, each record
on its key's partition as a worker's own writes go, and a worker of this release starts on that
app: it must recover every lead and visitor as 0.2.0 held them, keep scoring them from there,
and write them back in this release's format.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest

from bench.memory import changelog_topic, compacted
from scoring import LeadState
from streams.contracts import lead_records, visitor_records
from streams.contracts.encoding import iso_time
from streams.contracts.partitioning import partition_for
from streams.devtools.processes import WorkerProcess
from tests.integration.pipeline_harness import TEST_PARTITIONS, RunningPipeline, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

WRITTEN = json.loads((Path(__file__).parent / "data" / "release_0_2_0_changelog.json").read_text())
TABLES = {name: {base64.b64decode(key): base64.b64decode(value) for key, value in records}
          for name, records in WRITTEN["tables"].items()}


def _app_id(pipeline: RunningPipeline) -> str:
    return pipeline.worker.extra_env["LEADSTREAM_APP_ID"]


async def _write_changelogs(pipeline: RunningPipeline) -> None:
    for table, records in TABLES.items():
        topic = changelog_topic(_app_id(pipeline), table)
        for key, value in records.items():
            await pipeline.producer.send_and_wait(topic, value, key=key, partition=partition_for(key, TEST_PARTITIONS))


def _counts(document: dict) -> dict[str, int]:
    return {c["signal"]: c["count"] for c in document["contributions"]}


def _held_states() -> dict[str, LeadState]:
    return {key.decode(): lead_records.decode_state(key.decode(), value) for key, value in TABLES["leads"].items()}


async def test_a_changelog_of_release_0_2_0_recovers_into_this_release_and_its_leads_keep_scoring(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
):
    assert WRITTEN["partitions"] == TEST_PARTITIONS
    assert all(value.startswith(b"[4,") for value in TABLES["leads"].values())  # 0.2.0's JSON, state format 4
    held = _held_states()
    # The workers' clock stands where 0.2.0's stood, so no demotion falls due between the two.
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("previous-release"),
                                    env={"LEADSTREAM_CLOCK": WRITTEN["clock"]})
    replacement: WorkerProcess | None = None
    try:
        first = pipeline.worker
        first.stop()  # its topics made, nothing written: 0.2.0's tables go on its changelogs
        await _write_changelogs(pipeline)
        replacement = WorkerProcess(first.bootstrap, Path(str(first.log_path) + ".next"), env=first.extra_env)
        replacement.start()
        await replacement.wait_ready(timeout=120)
        pipeline.workers = [replacement]

        # Every lead as 0.2.0 held it.
        for lead_id, state in held.items():
            status, document = await pipeline.lead(lead_id)
            assert status == 200, (lead_id, document)
            assert (document["stage"], document["temperature"], document["sequence"]) == (
                state.stage.value, state.temperature.value, state.sequence), lead_id

        # The furthest-along lead keeps scoring from where 0.2.0 left it: one more demo request.
        lead_id, state = max(held.items(), key=lambda item: (item[1].sequence, item[0]))
        before = _counts((await pipeline.lead(lead_id))[1])
        assert state.as_of is not None
        await pipeline.send({"type": "track", "messageId": "after-upgrade-1", "userId": lead_id,
                             "event": "Demo Requested", "timestamp": iso_time(state.as_of + 60)})
        # Counted, not timed: a demotion the recovered lead's timer runs first moves its as_of past this event.
        document = await pipeline.lead_when(lead_id, lambda d: _counts(d).get("demo_request", 0) > before.get(
            "demo_request", 0), timeout=60)
        after = _counts(document)
        assert after["demo_request"] == before.get("demo_request", 0) + 1
        assert {kind: count for kind, count in after.items() if kind != "demo_request"} == {
            kind: count for kind, count in before.items() if kind != "demo_request"}
        assert document["sequence"] >= state.sequence

        # A visitor 0.2.0 held events for is linked by an identify: its held history is scored for the lead.
        visitor_id, visitor = next(
            (key.decode(), v) for key, value in sorted(TABLES["visitors"].items())
            if not (v := visitor_records.decode_visitor(key.decode(), value)).lead_id and len(v.held) >= 2)
        last_seen = max(signal.occurred_at for signal in visitor.held)
        await pipeline.send({"type": "identify", "messageId": "after-upgrade-2", "userId": "upgraded-lead",
                             "anonymousId": visitor_id, "traits": {"email": "upgraded@example.com"},
                             "timestamp": iso_time(last_seen + 60)})
        held_kinds = Counter(signal.kind for signal in visitor.held if signal.kind)
        linked = await pipeline.lead_when(
            "upgraded-lead", lambda d: held_kinds.keys() <= {c["signal"] for c in d["contributions"]}, timeout=60)
        assert {c["signal"]: c["count"] for c in linked["contributions"]} == held_kinds

        # What the new worker wrote back is in this release's format, and reads as what it serves.
        await pipeline.caught_up(timeout=60)
        leads = await compacted(pipeline.bootstrap, changelog_topic(_app_id(pipeline), "leads"), TEST_PARTITIONS, {})
        rewritten = leads[lead_id.encode()]
        assert rewritten[0] == lead_records.STATE_FORMAT
        # (Revisits falling due on the recovered leads may have moved it on since: its timers run too.)
        stored = lead_records.decode_state(lead_id, rewritten)
        assert stored.sequence >= document["sequence"] and stored.tallies["demo_request"].count == after["demo_request"]
        await pipeline.lead_when(lead_id, lambda d: d["sequence"] == stored.sequence, timeout=30)
        assert leads.keys() >= TABLES["leads"].keys()
        assert all(lead_records.decode_state(key.decode(), leads[key]).sequence >= held[key.decode()].sequence
                   for key in TABLES["leads"])
    finally:
        await stop_pipeline(pipeline)
