"""Two workers on the wall clock, a model whose half-lives are seconds: replay of the topics reproduces
every change the workers emitted, outcomes are counted live as replay counts them, and a model
applied to the running workers re-classifies the leads they hold without a restart.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer

from scoring import Stage, load_model
from scoring.crossing import next_demotion
from scoring.outcomes import conversion
from scoring.replay import replay
from streams.contracts.change_records import change_to_dict
from streams.contracts.encoding import iso_time
from streams.config.environment import settings_from
from streams.ops.recorded_events import export_lines, read_jsonl, read_topics
from streams.contracts.segment import decode_segment
from tests.contracts import assert_matches_contract
from tests.e2e.cli import leadstream_command
from tests.integration.pipeline_harness import ICP_TRAITS, RunningPipeline, metric_total, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
SHIPPED_MODEL = Path(__file__).parents[2] / "scoring" / "default_model.toml"
TICK_S = 0.2
SAFE_BEFORE_S, SAFE_AFTER_S = 1.0, 1.5  # keep events this far from a crossing: live's tick must not race them


def fast_model_text(version: str, webinar_points: int = 20, intent_half_life_s: float = 3.0) -> str:
    """The shipped model with half-lives of seconds (interest 6 s, intent and negatives 3 s)."""
    text = SHIPPED_MODEL.read_text()
    for old, new in (
        ("[half_life_days]\ninterest = 30\nintent = 7\nnegative = 14\n",
         f"[half_life_days]\ninterest = {6 / 86400}\nintent = {intent_half_life_s / 86400}\nnegative = {3 / 86400}\n"),
        ('version = "default-3"', f'version = "{version}"'),
        ('webinar_attended = { component = "interest", points = 20, cap = 40 }',
         f'webinar_attended = {{ component = "interest", points = {webinar_points}, cap = {2 * webinar_points} }}'),
    ):
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    paths = {"live": folder / "live.toml", "candidate": folder / "candidate.toml", "slower": folder / "slower.toml"}
    paths["live"].write_text(fast_model_text("fast-1"))
    paths["candidate"].write_text(fast_model_text("fast-2", webinar_points=40))
    paths["slower"].write_text(fast_model_text("fast-3", intent_half_life_s=30.0))
    return paths


async def start_improvement_pipeline(kafka_bootstrap: str, log_dir: Path, models: dict[str, Path]) -> RunningPipeline:
    return await start_pipeline(kafka_bootstrap, log_dir, workers=2, env={
        "LEADSTREAM_MODEL": str(models["live"]), "LEADSTREAM_CLOCK": "wall",
        "LEADSTREAM_DEMOTION_TICK_S": str(TICK_S),
    })


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, models: dict[str, Path]):
    """Two workers that stay on the live model: the replay, export, outcome and report tests share them."""
    running = await start_improvement_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("improvement"), models)
    yield running
    await stop_pipeline(running)


@pytest_asyncio.fixture(loop_scope="session")
async def pipeline_to_change(kafka_bootstrap: str, tmp_path: Path, models: dict[str, Path]):
    """Two workers of their own, for the test that applies a model: the others' stay on the live one."""
    running = await start_improvement_pipeline(kafka_bootstrap, tmp_path, models)
    yield running
    await stop_pipeline(running)


def now_iso(earlier_s: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() - earlier_s, timezone.utc).isoformat()


class Journeys:
    """Sends each lead's messages stamped now, never within a second of one of its crossings."""

    def __init__(self, pipeline: RunningPipeline, model_path: Path) -> None:
        self.pipeline = pipeline
        self.model = load_model(model_path)
        self.sent: dict[str, list[dict[str, Any]]] = {}

    def expected(self, lead: str, until: float):
        events = [decode_segment(orjson.dumps(m), time.time() + 3600, 32 * 1024) for m in self.sent.get(lead, [])]
        return replay(events, self.model, until=until)

    async def send(self, lead: str, *bodies: dict[str, Any]) -> None:
        while True:  # wait out a crossing that is about to fall due, or just did
            state = self.expected(lead, time.time()).states.get(lead)
            due = next_demotion(state, self.model) if state is not None else None
            if due is None or time.time() < due - SAFE_BEFORE_S:
                break
            await asyncio.sleep(max(due + SAFE_AFTER_S - time.time(), 0.05))
        for body in bodies:
            number = len(self.sent.setdefault(lead, []))
            message = {"messageId": f"{lead}-{number}", "userId": lead, "timestamp": now_iso(), **body}
            self.sent[lead].append(message)
            await self.pipeline.send(message)


def hot(lead: str) -> list[dict[str, Any]]:
    """Interest 35 and intent 40 within a moment, then every BANT criterion: SQL and hot."""
    return [
        {"type": "identify", "traits": {"email": f"{lead}@acme.io", **ICP_TRAITS}},
        {"type": "track", "event": "Case Study Downloaded"},
        {"type": "page", "properties": {"path": "/product"}},
        {"type": "track", "event": "Webinar Attended"},
        {"type": "page", "properties": {"path": "/pricing"}},
        {"type": "track", "event": "Demo Requested"},
        {"type": "track", "event": "Qualification Form Submitted",
         "properties": {"criteria": {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "Q1"}}},
    ]


DEMO = {"type": "track", "event": "Demo Requested"}
WON = {"type": "track", "event": "Deal Won"}


def comparable(change: dict[str, Any]) -> dict[str, Any]:
    """A change without the moments it was emitted and ingested: those are the run's, not the model's."""
    return {key: value for key, value in change.items() if key not in ("emitted_at", "ingested_at")}


def cli(pipeline: RunningPipeline, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap, **pipeline.worker.extra_env}
    return subprocess.run([*leadstream_command(), *args], env=env, capture_output=True, text=True, timeout=120)


@dataclass
class LiveRun:
    """Five hot leads' journeys on the live workers (one erased, one won), their live changes and
    the replay of the topics under the live model, read once the workers had emitted everything."""

    journeys: Journeys
    leads: tuple[str, ...]
    final: dict[str, list[Any]]  # each lead's changes as the model makes them, demotions included
    live: dict[str, list[dict[str, Any]]]  # the changes the workers emitted
    rejected: int
    erased: frozenset[str]  # ErasedIds: ``id in erased`` compares digests
    replayed: Any


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_run(pipeline: RunningPipeline, models: dict[str, Path]) -> LiveRun:
    """Made once for the tests that read the history, whichever of them runs (-k, --lf, any order)."""
    journeys = Journeys(pipeline, models["live"])
    for lead in ("left-alone", "renewed-after", "renewed-before", "won", "erased"):
        await journeys.send(lead, *hot(lead))
    await journeys.send("renewed-before", DEMO)  # before its first crossing
    await journeys.send("won", WON)  # while it is an SQL
    # Its interest arrives after its intent and answers, stamped half a second before them: the worker
    # re-derives it in event time, as the replay does.
    late = hot("arrived-late")
    await journeys.send("arrived-late", late[0], *late[4:],
                        *({**body, "timestamp": now_iso(earlier_s=0.5)} for body in late[1:4]))
    await pipeline.wait_for_changes("erased", at_least=3)
    async with aiohttp.ClientSession() as session:
        async with session.delete(f"{pipeline.worker.url}/leads/erased") as response:
            assert response.status in (200, 202), await response.text()
    first_crossing = next_demotion(journeys.expected("renewed-after", time.time()).states["renewed-after"],
                                   journeys.model)
    await asyncio.sleep(max(first_crossing + SAFE_AFTER_S - time.time(), 0))
    await journeys.send("renewed-after", DEMO)  # after it was demoted

    leads = ("left-alone", "renewed-after", "renewed-before", "won", "arrived-late")
    final = {lead: journeys.expected(lead, time.time() + 3600).changes for lead in leads}
    for lead in leads:
        await pipeline.wait_for_changes(lead, len(final[lead]), timeout=60)
    # Every crossing is past: once all is committed and read, each lead has exactly its final changes.
    live = {lead: await pipeline.changes_for(lead, len(final[lead])) for lead in leads}

    config = settings_from({**pipeline.worker.extra_env, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap})
    history = await read_topics(config)
    records, rejected = history.decoded(config.max_event_bytes)
    replayed = replay(records, load_model(models["live"]), until=time.time(), erased=history.erased)
    return LiveRun(journeys, leads, final, live, rejected, history.erased, replayed)


async def test_replaying_the_topics_under_the_live_model_reproduces_every_live_change_exactly(
    pipeline: RunningPipeline, live_run: LiveRun
):
    replayed = live_run.replayed

    assert all(any(c.cause == "decay" for c in live_run.final[lead]) for lead in live_run.leads)
    assert any(c.cause == "late" for c in live_run.final["arrived-late"])
    # The erasures table keeps a digest of each erased id, never the id: one lead was erased, that one.
    assert live_run.rejected == 0 and len(live_run.erased) == 1 and "erased" in live_run.erased
    assert "erased" not in replayed.states
    for lead in live_run.leads:
        mine = [comparable(change_to_dict(c, 0.0, None)) for c in replayed.changes if c.lead_id == lead]
        assert mine == [comparable(c) for c in await pipeline.changes_for(lead, len(live_run.final[lead]))], lead
        assert len(mine) == len(live_run.live[lead])


async def test_an_export_leaves_erased_leads_out_and_replays_like_the_topics(
    pipeline: RunningPipeline, models: dict[str, Path], live_run: LiveRun, tmp_path: Path
):
    replayed = live_run.replayed
    config = settings_from({**pipeline.worker.extra_env, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap})
    lines, counts = export_lines(await read_topics(config), config.max_event_bytes, time.time())
    (tmp_path / "history.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    exported = read_jsonl([tmp_path / "history.jsonl"])

    assert counts["erased_left_out"] == len(hot("erased")) and not any(b'"erased' in line for line in lines)
    records, _ = exported.decoded(config.max_event_bytes)
    again = replay(records, load_model(models["live"]), until=replayed.until)
    assert again.changes == replayed.changes


async def test_outcomes_are_joined_to_stage_history_live_as_the_report_joins_them(
    pipeline: RunningPipeline, live_run: LiveRun
):
    table = conversion(live_run.replayed.outcomes)

    assert table.by_stage[Stage.SQL].won == 1 == table.overall.won
    for stage in (Stage.IQL, Stage.MQL, Stage.SQL):
        live = await metric_total(pipeline, "leadstream_outcomes_by_stage_total", outcome="won", stage=stage.value)
        assert live == table.by_stage[stage].won, stage
    assert await metric_total(pipeline, "leadstream_outcomes_by_temperature_total", outcome="won",
                              temperature="hot") == 1
    assert await metric_total(pipeline, "leadstream_outcomes_by_signal_total", outcome="won",
                              signal="demo_request") == 1
    accounting = await pipeline.settled_accounting()
    assert accounting["ignored_by_reason"].get("outcome_only") == 1


async def test_the_replay_command_reads_the_topics_and_writes_the_candidates_changes_to_its_own_topic(
    pipeline: RunningPipeline, models: dict[str, Path], live_run: LiveRun
):  # live_run: the history to replay, with its one erased lead
    replayed = cli(pipeline, "replay", "--model", str(models["candidate"]))

    assert replayed.returncode == 0, replayed.stderr
    assert "live fast-1" in replayed.stdout and "candidate fast-2" in replayed.stdout
    assert "1 erased leads skipped" in replayed.stdout
    written = int(replayed.stdout.split("the candidate's ")[1].split(" changes")[0])
    consumer = AIOKafkaConsumer(pipeline.topic("leads.qualification.replay"), bootstrap_servers=pipeline.bootstrap,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000, max_records=written)
        changes = [orjson.loads(record.value) for batch in batches.values() for record in batch]
    finally:
        await consumer.stop()
    assert changes and all(change["model_version"] == "fast-2" for change in changes)
    assert_matches_contract("leads.qualification.replay", changes[0])
    reported = cli(pipeline, "report")
    assert reported.returncode == 0, reported.stderr
    assert "under model fast-1" in reported.stdout


async def test_a_model_applied_to_running_workers_reclassifies_the_leads_they_hold_without_a_restart(
    pipeline_to_change: RunningPipeline, models: dict[str, Path]
):
    pipeline = pipeline_to_change
    lead = "just-below-mql"
    journeys = Journeys(pipeline, models["live"])
    await journeys.send(lead, {"type": "identify", "traits": {"email": f"{lead}@acme.io", **ICP_TRAITS}},
                        {"type": "track", "event": "Webinar Attended"},
                        {"type": "page", "properties": {"path": "/blog/a"}})
    assert [c["to_stage"] for c in await pipeline.wait_for_changes(lead, 1)] == ["iql"]  # interest 22 < 25
    pids = [worker.pid for worker in pipeline.workers]

    # The workers run their file's model, which their reports carry: the command refuses the
    # half-life change against it before publishing anything (exit 2).
    refused = cli(pipeline, "model", "apply", str(models["slower"]))
    assert refused.returncode == 2, refused.stderr
    assert "half-lives differ (intent" in refused.stderr and "needs a replay" in refused.stderr
    applied = cli(pipeline, "model", "apply", str(models["candidate"]))
    assert applied.returncode == 0, applied.stderr
    assert "applied model fast-2 (was fast-1)" in applied.stdout

    changes = await pipeline.wait_for_changes(lead, 2, timeout=30)
    switched = changes[1]
    assert (switched["from_stage"], switched["to_stage"]) == ("iql", "mql")  # webinar now worth 40
    assert switched["model_version"] == "fast-2"
    assert switched["cause"]["type"] == "model" and switched["cause"]["event_id"].startswith("model:fast-2@")
    last_event = datetime.fromisoformat(journeys.sent[lead][-1]["timestamp"]).timestamp()
    assert switched["event_time"] == iso_time(last_event)  # re-classified as of its last event
    assert_matches_contract("leads.qualification", switched)
    async with aiohttp.ClientSession() as session:  # the board's timeline shows the move, by model
        async with session.get(f"{pipeline.workers[0].url}/leads/{lead}/history") as response:
            moves = (await response.json())["moves"]
    assert ("iql", "mql", "model") in [(m["from_stage"], m["to_stage"], m["cause"]) for m in moves]  # decay may follow
    assert [worker.pid for worker in pipeline.workers] == pids
    assert all(worker.process.poll() is None for worker in pipeline.workers)
    for worker in pipeline.workers:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{worker.url}/metrics") as response:
                assert 'leadstream_model_info{framework="bant",version="fast-2"} 1.0' in await response.text()
    shown = cli(pipeline, "model", "show")  # what each worker reports running, then what leads.control holds
    reported = {line.split(" ")[1]: line for line in shown.stdout.splitlines() if line.startswith("worker ")}
    assert all("runs model fast-2 [" in reported[worker.url] for worker in pipeline.workers), shown.stdout
    assert "from applied with `leadstream model apply`" in shown.stdout
    assert "applied on leads.control: fast-2 [" in shown.stdout
