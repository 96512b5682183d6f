"""A signal defined only in a model file, on real Kafka: it scores, explains itself by its own name, and
survives `leadstream model apply` (docs/scoring-model.md, [signals]).

The worker starts with a model defining `g2_intent` (30 intent points, from a page rule and a track
event the shipped model does not know). A lead that compares on G2 warms up, and the change names
`g2_intent`. Applying a model that weighs it 10 re-classifies the held lead (cold, the reason still
`g2_intent`); three more G2 surges under the applied model warm it again, counted with the first.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from streams.devtools.processes import WorkerProcess
from tests.contracts import assert_matches_contract
from tests.e2e.cli import leadstream_command
from tests.integration.pipeline_harness import identify, page, start_pipeline, stop_pipeline, track
from tests.model_files import shipped_model_with

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
LEAD = "g2-reader"


def g2_model(version: str, points: int) -> str:
    """The shipped model plus g2_intent: a page rule and a track event map to it."""
    return shipped_model_with(
        ('version = "default-3"', f'version = "{version}"'),
        ("[signals]\n", f'[signals]\ng2_intent = {{ component = "intent", points = {points}, cap = 60 }}\n'),
        ("[events]\n", '[events]\n"G2 Intent Surge" = "g2_intent"\n'),
        ('[[page_views.rules]]\nprefix = "/pricing"',
         '[[page_views.rules]]\nprefix = "/compare/g2"\nsignal = "g2_intent"\n\n[[page_views.rules]]\nprefix = "/pricing"'),
    )


def leadstream(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": worker.bootstrap, **worker.extra_env}
    return subprocess.run([*leadstream_command(), *args], env=env, capture_output=True, text=True, timeout=120)


def reasons(change: dict) -> list[tuple[str, int]]:
    return [(reason["signal"], reason["count"]) for reason in change["reasons"]]


async def test_a_signal_defined_only_in_the_model_file_scores_explains_itself_and_survives_an_apply(
    kafka_bootstrap: str, tmp_path: Path,
):
    started, applied = tmp_path / "g2-1.toml", tmp_path / "g2-2.toml"
    started.write_text(g2_model("g2-1", points=30))
    applied.write_text(g2_model("g2-2", points=10))
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path, env={"LEADSTREAM_MODEL": str(started)})
    try:
        await pipeline.send_all([identify(LEAD, f"{LEAD}-1", f"{LEAD}@acme.io", 0),
                                 page(LEAD, f"{LEAD}-2", "/compare/g2/leadstream-vs-rivalscore", 1)])
        identified, warmed = await pipeline.changes_for(LEAD, count=2)
        assert (identified["to_stage"], identified["to_temperature"]) == ("iql", "cold")
        assert (warmed["to_temperature"], warmed["model_version"]) == ("warm", "g2-1")
        assert reasons(warmed) == [("g2_intent", 1)] and warmed["reasons"][0]["points_now"] == 30
        assert warmed["score"]["intent"] == 30
        assert_matches_contract("leads.qualification", warmed)

        outcome = leadstream(pipeline.worker, "model", "apply", str(applied))
        assert outcome.returncode == 0, outcome.stderr
        assert "applied model g2-2 (was g2-1)" in outcome.stdout

        cooled = (await pipeline.changes_for(LEAD, count=3, timeout=60.0))[2]
        assert (cooled["to_temperature"], cooled["model_version"], cooled["cause"]["type"]) == ("cold", "g2-2", "model")
        assert reasons(cooled) == [("g2_intent", 1)] and cooled["reasons"][0]["points_now"] == 10

        await pipeline.send_all([track(LEAD, f"{LEAD}-{n}", "G2 Intent Surge", n) for n in (3, 4, 5)])
        rewarmed = (await pipeline.changes_for(LEAD, count=4, timeout=60.0))[3]
        assert (rewarmed["to_temperature"], rewarmed["model_version"]) == ("warm", "g2-2")
        assert reasons(rewarmed) == [("g2_intent", 4)]
        assert_matches_contract("leads.qualification", rewarmed)

        status, document = await pipeline.worker.get_json(f"/leads/{LEAD}")
        assert status == 200 and document["model_version"] == "g2-2"
        assert [c["signal"] for c in document["contributions"]] == ["g2_intent"]
    finally:
        await stop_pipeline(pipeline)
