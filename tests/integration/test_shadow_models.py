"""A shadow model on two real workers, put on mid-stream: the live output is what it is without it, byte for
byte (emission stamps aside); the shadow's changes are the candidate's from the moment it came on; `--off`
stops its topic; `model promote` makes it live with no restart.
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from msgspec.structs import replace

from scoring import Signal, apply, interpret, load_model
from scoring.arrival import apply_outcome
from scoring.outcomes import outcome_of
from scoring.replay import replay
from scoring.switch import reclassify_under
from streams.contracts.change_records import change_to_dict
from streams.contracts.segment import decode_segment
from tests.contracts import assert_matches_contract
from tests.e2e.cli import leadstream_command
from tests.integration.pipeline_harness import (
    T0, RunningPipeline, TopicRecorder, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
SHIPPED_MODEL = Path(__file__).parents[2] / "scoring" / "default_model.toml"
SHADOW_TOPIC = "leads.qualification.shadow"


def model_text(version: str, *edits: tuple[str, str]) -> str:
    text = SHIPPED_MODEL.read_text()
    for old, new in (('version = "default-3"', f'version = "{version}"'), *edits):
        assert old in text
        text = text.replace(old, new)
    return text


RICHER_WEBINARS = ('webinar_attended = { component = "interest", points = 20, cap = 40 }',
                   'webinar_attended = { component = "interest", points = 40, cap = 80 }')


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shadow-models")
    paths = {"candidate": folder / "candidate.toml", "slower": folder / "slower.toml"}
    paths["candidate"].write_text(model_text("candidate-1", RICHER_WEBINARS))
    paths["slower"].write_text(model_text("slower-1", ("intent = 7", "intent = 9")))
    return paths


def below_mql(lead: str, minutes: float = 0.0) -> list[dict[str, Any]]:
    """22 interest points under the shipped model (IQL), 42 under the candidate (MQL)."""
    return [identify(lead, f"{lead}-1", f"{lead}@acme.io", minutes),
            track(lead, f"{lead}-2", "Webinar Attended", minutes=minutes + 1),
            page(lead, f"{lead}-3", "/blog/a", minutes=minutes + 2)]


def warming(lead: str, minutes: float = 0.0) -> list[dict[str, Any]]:
    return [identify(lead, f"{lead}-1", f"{lead}@acme.io", minutes),
            track(lead, f"{lead}-2", "Case Study Downloaded", minutes=minutes + 1),
            page(lead, f"{lead}-3", "/pricing", minutes=minutes + 2),
            track(lead, f"{lead}-4", "Demo Requested", minutes=minutes + 3)]


EARLY = [*below_mql("ada"), *warming("bob"), *below_mql("eve")]
LATE = [*below_mql("cy", 10), page("ada", "ada-4", "/blog/b", minutes=11),
        track("bob", "bob-9", "Webinar Attended", minutes=12), track("eve", "eve-4", "Webinar Attended", minutes=13),
        track("cy", "cy-won", "Deal Won", minutes=14)]  # MQL before it under the shadow only
WHILE_OFF = [*below_mql("dee", 20), page("ada", "ada-5", "/blog/c", minutes=21)]
LEADS = ("ada", "bob", "cy", "dee", "eve")


def cli(pipeline: RunningPipeline, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap, **pipeline.worker.extra_env}
    return subprocess.run([*leadstream_command(), *args], env=env, capture_output=True, text=True, timeout=180)


def comparable(change: dict[str, Any]) -> dict[str, Any]:
    """A change without the moments it was emitted and ingested: those are the run's, not the model's."""
    return {key: value for key, value in change.items() if key not in ("emitted_at", "ingested_at")}


def per_lead(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each lead's distinct changes in order, without their emission stamps."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        if record.get("kind") == "qualification_change":
            found.setdefault(record["lead_id"], {}).setdefault(record["change_id"], comparable(record))
    return {lead: sorted(changes.values(), key=lambda c: c["sequence"]) for lead, changes in found.items()}


def decoded(events: list[dict[str, Any]]) -> list[Any]:
    received = (T0 + timedelta(hours=3)).timestamp()  # the broker took them after they happened, as live
    return [decode_segment(orjson.dumps(event), received, 32 * 1024) for event in events]


def candidate_from(held: list[dict[str, Any]], after: list[dict[str, Any]], cause: str) -> dict[str, list[dict]]:
    """The reference: the live model's state after ``held`` (replayed), switched to the candidate as
    `model apply` switches it, then ``after`` replayed under the candidate; each lead's changes from the switch."""
    live, candidate = load_model(None), load_model(os.environ["SHADOW_CANDIDATE"])
    states = dict(replay(decoded(held), live).states)
    changes: dict[str, list[Any]] = {}
    for lead, state in list(states.items()):
        started = reclassify_under(replace(state, recent_changes=()), candidate, cause)
        states[lead] = started.state
        changes[lead] = [started.change] if started.change else []
    for event in decoded(after):
        signal, held = interpret(event, candidate), states.get(event.lead_id)
        if isinstance(signal, Signal):
            decision = apply(held, signal, candidate)
        else:  # a CRM outcome, joined as the worker joins it
            outcome = outcome_of(event, candidate)
            assert outcome is not None and held is not None, signal
            decision = apply_outcome(held, outcome, event.occurred_at, event.event_id, candidate)
        states[event.lead_id] = decision.state
        if decision.change is not None:
            changes.setdefault(event.lead_id, []).append(decision.change)
    return {lead: [comparable(change_to_dict(c, 0.0, None)) for c in found] for lead, found in changes.items() if found}


async def run(pipeline: RunningPipeline, events: list[dict[str, Any]]) -> None:
    await pipeline.send_all(events)
    await pipeline.caught_up(timeout=90)


async def test_a_shadow_put_on_mid_stream_changes_nothing_live_and_makes_the_candidates_changes(
    kafka_bootstrap: str, tmp_path: Path, models: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("SHADOW_CANDIDATE", str(models["candidate"]))
    without = await start_pipeline(kafka_bootstrap, tmp_path / "without", workers=2)
    try:
        await run(without, EARLY)
        await run(without, LATE)
        await run(without, WHILE_OFF)
        reference = per_lead(await without.recorder.wait_for(without.topic("leads.qualification"), lambda rs: True))
    finally:
        await stop_pipeline(without)

    pipeline = await start_pipeline(kafka_bootstrap, tmp_path / "beside", workers=2)
    shadow = TopicRecorder(kafka_bootstrap, (pipeline.topic(SHADOW_TOPIC),))
    try:
        await run(pipeline, EARLY)
        refused = cli(pipeline, "model", "shadow", str(models["slower"]))
        assert refused.returncode == 2, refused.stderr
        assert "half-lives differ (intent" in refused.stderr and "leadstream replay --model" in refused.stderr
        put = cli(pipeline, "model", "shadow", str(models["candidate"]))
        assert put.returncode == 0, put.stderr
        assert "shadow model candidate-1 runs beside default-3 on all 2 running workers" in put.stdout
        shown = cli(pipeline, "model", "show")
        assert sum("runs model default-3 [" in line and "; shadow candidate-1 [" in line
                   for line in shown.stdout.splitlines()) == 2, shown.stdout
        assert "shadow on leads.control: candidate-1 [" in shown.stdout
        await shadow.start()
        await run(pipeline, LATE)
        await shadow.read_to_end()
        shadow_records = await shadow.wait_for(pipeline.topic(SHADOW_TOPIC), lambda rs: True)
        for record in shadow_records:
            assert_matches_contract("leads.qualification", record)
        cause = next(r["cause"]["event_id"] for r in shadow_records if r["cause"]["type"] == "model")
        assert per_lead(shadow_records) == candidate_from(EARLY, LATE, cause)
        assert ("iql", "mql", "candidate-1") in [(r["from_stage"], r["to_stage"], r["model_version"])
                                                 for r in shadow_records if r["lead_id"] == "ada"]

        report = cli(pipeline, "report", "--models", "--since", "2026-11-01T00:00:00+00:00",
                     "--until", "2026-11-03T00:00:00+00:00")
        assert report.returncode == 0, report.stderr
        rows = {line[:52].strip(): line[52:].split() for line in report.stdout.splitlines() if len(line) > 52}
        assert rows["model"] == ["live", "default-3", "shadow", "candidate-1"], report.stdout
        assert " ".join(rows["mql precision (won among closed deals reaching it)"]) == "0/0 = n/a 1/1 = 100.0%"
        assert " ".join(rows["mql recall (won deals reaching it)"]) == "0/1 = 0.0% 1/1 = 100.0%"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            async with session.get(f"{pipeline.worker.url}/board/model/shadow?since=2026-11-01T00:00:00Z") as answer:
                status, page_html = answer.status, await answer.text()
        assert status == 200 and 'id="shadow-version">candidate-1<' in page_html
        assert "<td>1/1 = 100.0%</td>" in page_html
        off = cli(pipeline, "model", "shadow", "--off")
        assert off.returncode == 0, off.stderr
        assert "shadow switched off: 2 running workers confirmed" in off.stdout
        await run(pipeline, WHILE_OFF)
        await shadow.read_to_end()
        assert len(shadow.records[pipeline.topic(SHADOW_TOPIC)]) == len(shadow_records)

        live = per_lead(await pipeline.recorder.wait_for(pipeline.topic("leads.qualification"), lambda rs: True))
        assert live == reference  # every live change, as the run without a shadow made it
        assert set(live) == set(LEADS)

        pids = [worker.pid for worker in pipeline.workers]
        assert cli(pipeline, "model", "shadow", str(models["candidate"])).returncode == 0
        promoted = cli(pipeline, "model", "promote")
        assert promoted.returncode == 0, promoted.stderr
        assert "applied model candidate-1 (was default-3)" in promoted.stdout and "The shadow is off" in promoted.stdout
        switched = await pipeline.wait_for_changes("dee", 2, timeout=60)
        assert (switched[-1]["to_stage"], switched[-1]["model_version"], switched[-1]["cause"]["type"]) == \
            ("mql", "candidate-1", "model")
        assert [worker.pid for worker in pipeline.workers] == pids
        assert all(worker.process.poll() is None for worker in pipeline.workers)
        shown = cli(pipeline, "model", "show")
        workers = [line for line in shown.stdout.splitlines() if line.startswith("worker ")]
        assert len(workers) == 2 and all("runs model candidate-1 [" in line and "shadow" not in line
                                         for line in workers), shown.stdout
    finally:
        await shadow.stop()
        await stop_pipeline(pipeline)
