"""`leadstream export` and `leadstream replay` run as commands against a worker's history on Apache Kafka.

The history: two hot leads, one recycled by sales, one erased. Export writes it to JSON lines
without the erased lead. Replay reads it with no consumer group (nothing left behind, nothing
committed) and honours --until, --output-topic, --no-output and --current as its help and
docs/scoring-model.md ("Calibration") say.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.e2e.cli import leadstream_command
from tests.integration.alert_fixtures import committed_offsets, read_topic
from tests.integration.pipeline_harness import (
    RunningPipeline, answers, identify, page, start_pipeline, stop_pipeline, track,
)
from tests.model_files import shipped_model_with

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


HOT, RECYCLED, ERASED = ("history-hot-0", "history-hot-1"), "history-recycled", "history-erased"
LEADS = (*HOT, RECYCLED, ERASED)
# The workers run on the wall clock: replay orders a sales verdict (stamped by the worker's clock)
# among the events by the broker's receipt times, so the two clocks must agree.
WALL_CLOCK_ENV = {"LEADSTREAM_CLOCK": "wall"}
JOURNEY_START = time.time() - 3600  # an hour ago: no demotion falls due for days
EARLY = iso(time.time() + 3600 * 6)  # after every event and the verdict, long before any demotion
LATE = iso(time.time() + 90 * 86400)  # thirteen intent half-lives on: nobody is hot any more


def stamped(message: dict[str, Any], minute: int) -> dict[str, Any]:
    return {**message, "timestamp": iso(JOURNEY_START + 60 * minute)}


def hot_journey(lead: str) -> list[dict[str, Any]]:
    return [stamped(message, minute) for minute, message in enumerate([
        identify(lead, f"{lead}-1", f"{lead}@acme.io"), track(lead, f"{lead}-2", "Case Study Downloaded"),
        page(lead, f"{lead}-3", "/product"), track(lead, f"{lead}-4", "Webinar Attended"),
        track(lead, f"{lead}-5", "Demo Requested"),
        answers(lead, f"{lead}-6", budget="yes", authority="yes", need="yes", timeline="Q1")])]


def model_file(folder: Path, version: str, demo_points: int = 30) -> Path:
    path = folder / f"{version}.toml"
    path.write_text(shipped_model_with(
        ('version = "default-3"', f'version = "{version}"'),
        ('demo_request = { component = "intent", points = 30, cap = 40 }',
         f'demo_request = {{ component = "intent", points = {demo_points}, cap = 40 }}')))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("history-models")
    # Without demo points nobody turns hot (SQL is the confirmed answers' and sales', the same under both):
    # the candidate's side differs from the live one.
    return {"candidate": model_file(folder, "no-demo-1", demo_points=0), "current": model_file(folder, "current-1")}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def history(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("history"), env=WALL_CLOCK_ENV)
    for lead in LEADS:
        await running.send_all(hot_journey(lead))
    for lead in LEADS:
        await running.changes_for(lead, count=3)
    async with aiohttp.ClientSession() as session:
        async with session.delete(f"{running.worker.url}/leads/{ERASED}") as response:
            assert response.status == 200, await response.text()
        async with session.post(f"{running.worker.url}/leads/{RECYCLED}/feedback",
                                data=orjson.dumps({"verdict": "recycle", "by": "rep-1"}),
                                headers={"Content-Type": "application/json"}) as response:
            assert response.status == 202, await response.text()
    await running.recorder.wait_for(running.topic("leads.feedback"), lambda records: len(records) == 1)
    await running.changes_for(RECYCLED, count=4)
    await running.settled_accounting()
    raw = running.topic("leads.events.raw")
    ends = await end_offsets(kafka_bootstrap, raw)
    group = running.worker.extra_env["LEADSTREAM_APP_ID"]  # Faust's group id is the app id
    deadline = time.monotonic() + 30
    while await committed_offsets(kafka_bootstrap, group, raw) != {p: o for p, o in ends.items() if o}:
        assert time.monotonic() < deadline, "the worker never committed what it read"
        await asyncio.sleep(0.2)
    yield running
    await stop_pipeline(running)


def leadstream(pipeline: RunningPipeline, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap, **pipeline.worker.extra_env}
    return subprocess.run([*leadstream_command(), *args], env=env, capture_output=True, text=True, timeout=120)


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset; {} when the topic does not exist (asking would auto-create it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            return {}
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def consumer_groups(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {group for group, _ in await admin.list_consumer_groups()}
    finally:
        await admin.close()


async def offsets_on(bootstrap: str, group: str, topic_prefix: str) -> set[TopicPartition]:
    """The partitions of topics named ``topic_prefix``... that ``group`` has committed offsets on."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {tp for tp in await admin.list_consumer_group_offsets(group) if tp.topic.startswith(topic_prefix)}
    finally:
        await admin.close()


def rows(stdout: str) -> dict[str, tuple[str, str]]:
    """replay's side-by-side table: label -> (live, candidate)."""
    table = {}
    for line in stdout.splitlines():
        values = line[42:].split()
        if len(line) > 42 and line[:42].strip() and len(values) == 2:
            table[line[:42].strip()] = (values[0], values[1])
    return table


async def test_export_writes_the_history_to_a_new_json_lines_file_without_the_erased_lead(
    history: RunningPipeline, tmp_path: Path,
):
    output = tmp_path / "exports" / "history.jsonl"
    output.parent.mkdir()
    assert not output.exists()

    exported = leadstream(history, "export", "--output", str(output))

    assert exported.returncode == 0, exported.stderr
    events_kept = 6 * (len(LEADS) - 1)
    assert exported.stdout.strip() == (
        f"exported {events_kept} events and 1 sales verdicts to {output}; left out 6 records of erased leads and"
        " 0 unreadable ones (dead-lettered live)")
    lines = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    header, body = lines[0], lines[1:]
    assert (header["kind"], header["format"], header["events"], header["feedback"]) == (
        "leadstream_history", 1, events_kept, 1)
    events = [orjson.loads(line["raw"]) for line in body if line["kind"] == "event"]
    sent = {f"{lead}-{n}" for lead in LEADS if lead != ERASED for n in range(1, 7)}
    assert sorted(e["messageId"] for e in events) == sorted(sent)  # each event once, exactly as sent
    assert all(line["key"] == orjson.loads(line["raw"])["userId"] for line in body if line["kind"] == "event")
    (verdict,) = [line for line in body if line["kind"] == "feedback"]
    assert (verdict["lead_id"], verdict["verdict"]) == (RECYCLED, "recycle")
    assert ERASED.encode() not in output.read_bytes()  # not its events, not its id anywhere
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # it names leads: its owner's eyes only


async def test_replay_leaves_no_consumer_group_and_no_committed_offsets_behind(
    history: RunningPipeline, models: dict[str, Path],
):
    bootstrap = history.bootstrap
    groups_before = await consumer_groups(bootstrap)
    worker_group = history.worker.extra_env["LEADSTREAM_APP_ID"]
    topics = [history.topic("leads.events.raw"), history.topic("leads.feedback")]
    offsets_before = {topic: await committed_offsets(bootstrap, worker_group, topic) for topic in topics}

    replayed = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", EARLY)

    assert replayed.returncode == 0, replayed.stderr
    assert "1 erased leads skipped" in replayed.stdout
    # Other test files share the broker and make groups of their own meanwhile: any new group must
    # be theirs, named apart from this pipeline and holding no offsets on its topics.
    assert worker_group in groups_before
    for group in await consumer_groups(bootstrap) - groups_before:
        assert not group.startswith(worker_group), group
        assert not await offsets_on(bootstrap, group, history.prefix), group
    assert {topic: await committed_offsets(bootstrap, worker_group, topic) for topic in topics} == offsets_before


async def test_replay_until_lets_the_leads_decay_up_to_that_time(history: RunningPipeline, models: dict[str, Path]):
    early = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", EARLY, "--no-output")
    late = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", LATE, "--no-output")

    assert early.returncode == 0 and late.returncode == 0, early.stderr + late.stderr
    assert f"demotions due up to {EARLY} applied" in early.stdout
    assert f"demotions due up to {LATE} applied" in late.stdout
    assert rows(early.stdout)["leads hot"][0] == str(len(HOT))  # the recycled lead is warm, the erased skipped
    assert rows(late.stdout)["leads hot"][0] == "0"
    assert rows(late.stdout)["leads sql"][0] == "0"
    assert int(rows(late.stdout)["qualification changes"][0]) > int(rows(early.stdout)["qualification changes"][0])
    bad = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", "next tuesday")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["leadstream replay: --until: expected an ISO 8601 time, got 'next tuesday'"]


async def test_replay_writes_the_candidates_changes_to_the_output_topic_or_nowhere(
    history: RunningPipeline, models: dict[str, Path],
):
    default_topic, own_topic = history.topic("leads.qualification.replay"), history.topic("tryout.changes")
    default_before = await end_offsets(history.bootstrap, default_topic)

    quiet = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", EARLY, "--no-output")
    assert quiet.returncode == 0, quiet.stderr
    assert "written to" not in quiet.stdout
    assert await end_offsets(history.bootstrap, default_topic) == default_before
    assert await end_offsets(history.bootstrap, own_topic) == {}  # --no-output created nothing either

    written = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", EARLY,
                         "--output-topic", own_topic)
    assert written.returncode == 0, written.stderr
    count = int(rows(written.stdout)["qualification changes"][1])
    assert f"the candidate's {count} changes: written to {own_topic}" in written.stdout
    assert await end_offsets(history.bootstrap, default_topic) == default_before
    assert sum((await end_offsets(history.bootstrap, own_topic)).values()) == count
    changes = [orjson.loads(value) for _, value in await read_topic(history.bootstrap, own_topic, count)]
    assert len(changes) == count
    assert {c["model_version"] for c in changes} == {"no-demo-1"}
    assert {c["lead_id"] for c in changes} == set(LEADS) - {ERASED}


async def test_replay_current_compares_against_the_named_model_instead_of_the_live_one(
    history: RunningPipeline, models: dict[str, Path],
):
    against_live = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", EARLY, "--no-output")
    against_itself = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", EARLY,
                                "--no-output", "--current", str(models["candidate"]))
    against_current = leadstream(history, "replay", "--model", str(models["candidate"]), "--until", EARLY,
                                 "--no-output", "--current", str(models["current"]))

    for run in (against_live, against_itself, against_current):
        assert run.returncode == 0, run.stderr
    assert "live model from the shipped default" in against_live.stdout
    assert rows(against_live.stdout)["leads hot"] == (str(len(HOT)), "0")
    assert f"live model from {models['candidate']}" in against_itself.stdout
    assert all(live == candidate for live, candidate in rows(against_itself.stdout).values())
    assert f"live model from {models['current']}" in against_current.stdout
    assert "live current-1" in against_current.stdout
    assert rows(against_current.stdout)["leads hot"] == (str(len(HOT)), "0")
