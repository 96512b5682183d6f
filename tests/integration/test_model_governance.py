"""Model governance that tells the truth (docs/operations.md, "Which model runs").

Two workers run gov-1 from their own LEADSTREAM_MODEL and nothing was ever applied; the CLI runs
with no LEADSTREAM_MODEL at all (the shipped default), as an operator's shell would. `model show`
must name what the workers run, not what the CLI's environment says; a file claiming gov-1 with
other contents is refused; a real apply returns only once every worker reports the new model
(one is frozen with SIGSTOP meanwhile, so the command visibly waits for it); and a worker that
cannot switch is named when the wait runs out.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import pytest_asyncio

from streams.devtools.processes import WorkerProcess
from tests.e2e.cli import leadstream_command
from tests.integration.pipeline_harness import RunningPipeline, start_pipeline, stop_pipeline
from tests.model_files import shipped_model_with

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]


def model_text(version: str, demo_points: int = 30) -> str:
    return shipped_model_with(
        ('version = "default-3"', f'version = "{version}"'),
        ('demo_request = { component = "intent", points = 30, cap = 40 }',
         f'demo_request = {{ component = "intent", points = {demo_points}, cap = 60 }}'),
    )


def digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("governed-models")
    texts = {"running": model_text("gov-1", 45), "same_version_other_contents": model_text("gov-1", 50),
             "next": model_text("gov-2", 50), "after": model_text("gov-3", 55)}
    paths = {name: folder / f"{name}.toml" for name in texts}
    for name, text in texts.items():
        paths[name].write_text(text)
    return paths


def operator_env(pipeline: RunningPipeline) -> dict[str, str]:
    """An operator's shell: the pipeline's Kafka and topics, but not the workers' LEADSTREAM_MODEL."""
    env = {key: value for key, value in {**os.environ, **pipeline.worker.extra_env}.items()
           if key != "LEADSTREAM_MODEL"}
    return {**env, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap}


def operator(pipeline: RunningPipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*leadstream_command(), *args], env=operator_env(pipeline), capture_output=True,
                          text=True, timeout=150)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, models: dict[str, Path]):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("governance"), workers=2,
                                   env={"LEADSTREAM_MODEL": str(models["running"])})
    try:
        yield running
    finally:
        for worker in running.workers:
            if worker.pid is not None and worker.process.poll() is None:
                os.kill(worker.pid, signal.SIGCONT)
        await stop_pipeline(running)


async def healthz_models(pipeline: RunningPipeline) -> list[tuple[str, str]]:
    found = []
    for worker in pipeline.workers:
        # 503 while a rebalance is under way (a worker frozen past its session timeout leaves the
        # group and rejoins): the model fields answer either way.
        status, health = await worker.get_json("/healthz")
        assert status in (200, 503), health
        found.append((health["model_version"], health["model_digest"]))
    return found


async def test_model_show_names_what_each_worker_runs_and_where_it_came_from(
    pipeline: RunningPipeline, models: dict[str, Path],
):
    shown = operator(pipeline, "model", "show")

    assert shown.returncode == 0, shown.stderr
    short = digest(models["running"]).removeprefix("sha256:")[:12]
    for worker in pipeline.workers:
        line = next(line for line in shown.stdout.splitlines() if line.startswith(f"worker {worker.url} "))
        assert f"runs model gov-1 [{short}] from LEADSTREAM_MODEL={models['running']}" in line
    assert "applied on leads.control: none" in shown.stdout
    assert "default-3" not in shown.stdout  # the CLI's own environment is not what runs
    assert await healthz_models(pipeline) == [("gov-1", digest(models["running"]))] * 2


async def test_a_file_with_a_running_version_but_other_contents_is_refused_and_nothing_changes(
    pipeline: RunningPipeline, models: dict[str, Path],
):
    refused = operator(pipeline, "model", "apply", str(models["same_version_other_contents"]))

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("leadstream model apply: ")
    assert "has the version of the live model (gov-1) but other contents" in line
    assert f"worker {pipeline.workers[0].url} runs gov-1" in line
    assert await healthz_models(pipeline) == [("gov-1", digest(models["running"]))] * 2
    assert "applied on leads.control: none" in operator(pipeline, "model", "show").stdout  # nothing published


async def test_an_apply_returns_only_once_every_worker_reports_the_new_model(
    pipeline: RunningPipeline, models: dict[str, Path],
):
    healthy, slow = pipeline.workers
    os.kill(slow.pid, signal.SIGSTOP)  # a worker slow to switch: frozen until we let it go
    try:
        applying = subprocess.Popen([*leadstream_command(), "model", "apply", str(models["next"]), "--timeout", "120"],
                                    env=operator_env(pipeline), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        await worker_reports(healthy, "gov-2")
        with pytest.raises(subprocess.TimeoutExpired):
            applying.wait(timeout=5)  # one worker switched, the other cannot: the command keeps waiting
    finally:
        os.kill(slow.pid, signal.SIGCONT)
    stdout, stderr = applying.communicate(timeout=150)

    assert applying.returncode == 0, stderr
    assert "applied model gov-2 (was gov-1): all 2 running workers confirmed" in stdout
    # Confirmed means switched: asked right after the command returned, no wait.
    assert await healthz_models(pipeline) == [("gov-2", digest(models["next"]))] * 2
    shown = operator(pipeline, "model", "show").stdout
    assert shown.count("runs model gov-2") == 2 and "from applied with `leadstream model apply`" in shown
    again = operator(pipeline, "model", "apply", str(models["next"]))
    assert again.returncode == 0 and "model gov-2 is already live on every running worker (2)" in again.stdout


async def worker_reports(worker: WorkerProcess, version: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status, health = await worker.get_json("/healthz")
        if status == 200 and health["model_version"] == version:
            return
        assert time.monotonic() < deadline, f"{worker.url} never reported {version}: {health}"
        await asyncio.sleep(0.2)


async def test_an_apply_a_worker_does_not_confirm_names_that_worker(
    pipeline: RunningPipeline, models: dict[str, Path],
):
    healthy, stuck = pipeline.workers
    _, before = await stuck.get_json("/healthz")  # whatever the file's other tests left it on
    os.kill(stuck.pid, signal.SIGSTOP)  # alive to Kafka's eyes for a while, but it cannot switch
    try:
        unconfirmed = operator(pipeline, "model", "apply", str(models["after"]), "--timeout", "8")
    finally:
        os.kill(stuck.pid, signal.SIGCONT)

    assert unconfirmed.returncode == 8, unconfirmed.stdout + unconfirmed.stderr
    assert unconfirmed.stdout == ""
    message = unconfirmed.stderr.strip()
    assert "model gov-3 is published on leads.control, but after 8 s" in message
    assert f"worker {stuck.url} still reports model {before['model_version']} [" in message
    assert healthy.url not in message
    status, health = await healthy.get_json("/healthz")  # 503 while the group rebalances: the stuck one left it
    assert status in (200, 503) and health["model_version"] == "gov-3", health
