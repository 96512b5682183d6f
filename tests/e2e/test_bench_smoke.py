"""`leadstream bench --quick --json` runs every stage and reports every figure (no timing assertions)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.e2e.cli import leadstream_command

pytestmark = pytest.mark.kafka

FIELDS = ("raw_eps", "faust_noop_eps", "naive_eps", "leadstream_eps", "leadstream_2w_eps", "p50_ms", "p99_ms",
          "bytes_per_lead")


def test_the_quick_benchmark_reports_every_figure(kafka_bootstrap: str, tmp_path: Path):
    figures_path = tmp_path / "bench.json"
    run = subprocess.run(
        [*leadstream_command(), "bench", "--quick", "--json", str(figures_path)],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, cwd=tmp_path,
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    figures = orjson.loads(figures_path.read_bytes())
    assert kafka_bootstrap in figures["broker"]
    for field in FIELDS:
        assert isinstance(figures[field], int | float) and figures[field] > 0, (field, figures)
    # The production stages scored the whole workload, and the accounting balanced.
    for stage in figures["run"]["stages"]:
        if "accounting" in stage:
            assert stage["accounting"]["balanced"] and stage["accounting"]["received"] == stage["events"], stage
    # The printed table names the broker and shows every stage.
    for line in ("raw aiokafka consumer", "Faust no-op agent", "naive tutorial scorer", "leadstream worker ×2",
                 "bytes per lead", "p99"):
        assert line in run.stdout, run.stdout
