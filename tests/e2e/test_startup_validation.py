"""A bad setting or model file stops `leadstream worker` at once, naming what is wrong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.cli import leadstream_command


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*leadstream_command(), "worker"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LEADSTREAM_PARTITIONS", "zero"), ("LEADSTREAM_SESSION_TIMEOUT_S", "-3"), ("KAFKA_BOOTSTRAP_SERVERS", " "),
     ("LEADSTREAM_FAULT_CRASH_AT", "after-emit:lead-1"), ("LEADSTREAM_FAULT_CRASH_AT", "after-store"),
     ("LEADSTREAM_COMMIT_INTERVAL_S", "0"), ("LEADSTREAM_LAG_PROBE_S", "soon"), ("LEADSTREAM_HEAL_CHECK_S", "0.01")],
)
def test_a_bad_environment_variable_is_named_and_the_worker_does_not_start(variable: str, value: str):
    run = run_worker({variable: value})
    assert run.returncode == 2
    assert run.stderr.startswith(f"leadstream: {variable}:"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_bad_model_file_is_rejected_naming_the_field(tmp_path: Path):
    model = tmp_path / "model.toml"
    shipped = (Path(__file__).parents[2] / "scoring" / "default_model.toml").read_text()
    broken = shipped.replace('demo_request = { component = "intent"', 'demo_request = { component = "intnet"')
    assert broken != shipped, "the shipped model no longer has the line this test breaks"
    model.write_text(broken)
    run = run_worker({"LEADSTREAM_MODEL": str(model)})
    assert run.returncode == 2
    assert "signals.demo_request.component" in run.stderr
    assert "interest, intent" in run.stderr  # the allowed values


def test_a_missing_model_file_is_named(tmp_path: Path):
    run = run_worker({"LEADSTREAM_MODEL": str(tmp_path / "absent.toml")})
    assert run.returncode == 2
    assert "absent.toml" in run.stderr and "cannot be read" in run.stderr


@pytest.mark.parametrize(("variable", "value"), [
    ("LEADSTREAM_COLLECTOR_WRITE_KEYS", "web"),
    ("LEADSTREAM_COLLECTOR_MAX_BODY_BYTES", "lots"),
    ("LEADSTREAM_COLLECTOR_ALLOWED_ORIGINS", "example.com"),
])
def test_a_bad_collector_setting_is_named_and_the_collector_does_not_start(variable: str, value: str):
    run = subprocess.run([*leadstream_command(), "collector", "--port", "0"], env={**os.environ, variable: value},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith(f"leadstream collector: {variable}:"), run.stderr  # the collector's own setting
