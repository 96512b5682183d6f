"""Model rollout when no worker was running to switch live (docs/design.md §10).

A worker scores a lead under model roll-1 (its LEADSTREAM_MODEL) and stops; roll-2 is applied
with `leadstream model apply`; a new worker, started with the same LEADSTREAM_MODEL and an
empty data dir, takes every partition over. It must score with the applied model, and catch up
the lead still classified under roll-1. A file claiming roll-2's version with other contents is
refused.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.contracts.encoding import iso_time
from streams.devtools.processes import WorkerProcess
from tests.contracts import assert_matches_contract
from tests.e2e.cli import leadstream_command
from tests.integration.pipeline_harness import (
    RunningPipeline, at, identify, page, start_pipeline, stop_pipeline, track,
)
from tests.model_files import shipped_model_with

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
BEHIND, AFTER = "rollout-behind", "rollout-after"


def model_text(version: str, webinar_points: int = 20, page_points: int = 1) -> str:
    """The shipped model under another version; a webinar worth 40 lifts interest 22 over the MQL rung (25)."""
    return shipped_model_with(
        ('version = "default-3"', f'version = "{version}"'),
        ('webinar_attended = { component = "interest", points = 20, cap = 40 }',
         f'webinar_attended = {{ component = "interest", points = {webinar_points}, cap = 80 }}'),
        ('page_view = { component = "interest", points = 1, cap = 5 }',
         f'page_view = {{ component = "interest", points = {page_points}, cap = 5 }}'),
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rollout-models")
    texts = {"file": model_text("roll-1"), "applied": model_text("roll-2", webinar_points=40),
             "same_version_other_contents": model_text("roll-2", webinar_points=40, page_points=2)}
    paths = {name: folder / f"{name}.toml" for name in texts}
    for name, text in texts.items():
        paths[name].write_text(text)
    return paths


def reader_journey(lead: str) -> list[dict[str, Any]]:
    """Interest 22 under roll-1 (IQL, cold); 42 under roll-2 (MQL, warm)."""
    return [identify(lead, f"{lead}-1", f"{lead}@acme.io", 0), track(lead, f"{lead}-2", "Webinar Attended", 1),
            page(lead, f"{lead}-3", "/blog/a", 2)]


def leadstream(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": worker.bootstrap, **worker.extra_env}
    return subprocess.run([*leadstream_command(), *args], env=env, capture_output=True, text=True, timeout=120)


@dataclass
class Rollout:
    pipeline: RunningPipeline
    late: WorkerProcess  # started after the apply, with LEADSTREAM_MODEL still naming roll-1


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rollout(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, models: dict[str, Path]):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("rollout"),
                                    env={"LEADSTREAM_MODEL": str(models["file"])})
    try:
        await pipeline.send_all(reader_journey(BEHIND))
        first = await pipeline.changes_for(BEHIND, count=1)
        assert [(c["to_stage"], c["model_version"]) for c in first] == [("iql", "roll-1")]
        await pipeline.settled_accounting()
        assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()

        applied = leadstream(pipeline.worker, "model", "apply", str(models["applied"]))
        assert applied.returncode == 0, applied.stderr
        assert "applied model roll-2: no worker is running; workers that start read it" in applied.stdout

        late = pipeline.add_worker()  # its own, empty data dir: every lead comes from the changelog
        await late.wait_ready()
        await pipeline.send_all(reader_journey(AFTER))  # a lead only the late worker ever saw
        yield Rollout(pipeline, late)
    finally:
        await stop_pipeline(pipeline)


async def test_a_worker_started_after_an_apply_scores_with_the_applied_model_over_its_own_file(rollout: Rollout):
    after = await rollout.pipeline.changes_for(AFTER, count=2)
    assert [(c["to_stage"], c["to_temperature"], c["model_version"]) for c in after] == [
        ("iql", "cold", "roll-2"), ("mql", "warm", "roll-2")]
    assert all(c["cause"]["type"] == "event" for c in after)
    status, document = await rollout.late.get_json(f"/leads/{AFTER}")
    assert status == 200 and document["model_version"] == "roll-2"
    status, _ = await rollout.late.get_json("/healthz")
    assert status == 200
    log = rollout.late.log_path.read_text(errors="replace")
    assert "scoring with model roll-2" in log and "LEADSTREAM_MODEL has roll-1" in log  # it says so


async def test_a_worker_taking_the_partitions_over_reclassifies_a_lead_still_on_the_older_model(rollout: Rollout):
    caught_up = (await rollout.pipeline.changes_for(BEHIND, count=2))[1]
    assert (caught_up["from_stage"], caught_up["from_temperature"]) == ("iql", "cold")
    assert (caught_up["to_stage"], caught_up["to_temperature"]) == ("mql", "warm")
    assert caught_up["model_version"] == "roll-2"
    assert caught_up["cause"]["type"] == "model" and caught_up["cause"]["event_id"].startswith("model:roll-2@")
    last_event = datetime.fromisoformat(at(2)).timestamp()
    assert caught_up["event_time"] == iso_time(last_event)  # as of its last event, not of the takeover
    assert_matches_contract("leads.qualification", caught_up)
    status, document = await rollout.late.get_json(f"/leads/{BEHIND}")
    assert status == 200
    assert (document["stage"], document["model_version"]) == ("mql", "roll-2")


async def control_end_offset(rollout: Rollout) -> int:
    partition = TopicPartition(rollout.pipeline.topic("leads.control"), 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=rollout.pipeline.bootstrap)
    await consumer.start()
    try:
        return (await consumer.end_offsets([partition]))[partition]
    finally:
        await consumer.stop()


async def test_a_file_with_the_live_version_but_other_contents_is_refused_in_one_line(
    rollout: Rollout, models: dict[str, Path],
):
    records_before = await control_end_offset(rollout)

    refused = leadstream(rollout.late, "model", "apply", str(models["same_version_other_contents"]))

    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("leadstream model apply: ")
    assert "has the version of the live model (roll-2) but other contents" in line
    assert f"worker {rollout.late.url} runs roll-2" in line and "give it a new version" in line
    assert await control_end_offset(rollout) == records_before  # nothing was published
    again = leadstream(rollout.late, "model", "apply", str(models["applied"]))  # the very file applied: a no-op
    assert again.returncode == 0, again.stderr
    assert "model roll-2 is already live on every running worker (1); nothing to do" in again.stdout
    assert await control_end_offset(rollout) == records_before
    shown = leadstream(rollout.late, "model", "show")
    assert f"worker {rollout.late.url} " in shown.stdout
    assert "runs model roll-2" in shown.stdout and "from applied with `leadstream model apply`" in shown.stdout
    assert f"worker {rollout.pipeline.worker.url} " not in shown.stdout  # it stopped, and said so
