"""`leadstream calibrate`, `replay` and `report` on an exported history, as a user runs them (no broker)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import orjson

from scoring import load_model
from streams.ops.recorded_events import EventHistory, RawRecord, export_lines
from tests.e2e.cli import leadstream_command
from tests.synthetic_history import synthetic_history


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LEADSTREAM_", "KAFKA_"))}
    # A broker nobody listens on: reading a history file must not need one.
    env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    return subprocess.run([*leadstream_command(), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_calibrate_then_replay_then_report_an_exported_history(tmp_path: Path):
    records = tuple(RawRecord(0, offset, at, message["userId"].encode(), orjson.dumps(message))
                    for offset, (at, message) in enumerate(synthetic_history(leads=300, seed=7)))
    lines, _ = export_lines(EventHistory(records, frozenset(), "synthetic"), 32 * 1024, exported_at=1.8e9)
    (tmp_path / "history.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    calibrated = run("calibrate", "--history", "history.jsonl", "--output", "candidate.toml", cwd=tmp_path)

    assert calibrated.returncode == 0, calibrated.stderr
    candidate = load_model(tmp_path / "candidate.toml")
    assert candidate.rule("webinar_attended").points > 20 > candidate.rule("blog_view").points * 10
    assert "expected lift on the held-out deals" in calibrated.stdout
    assert "-blog_view = { component = \"interest\", points = 2, cap = 10 }" in calibrated.stdout  # the diff

    replayed = run("replay", "--history", "history.jsonl", "--model", "candidate.toml", cwd=tmp_path)

    assert replayed.returncode == 0, replayed.stderr
    assert f"candidate {candidate.version}" in replayed.stdout
    precision = next(line for line in replayed.stdout.splitlines() if line.startswith("hot precision"))
    live_share, candidate_share = map(float, re.findall(r"= ([\d.]+)%", precision))
    assert candidate_share > live_share

    reported = run("report", "--history", "history.jsonl", cwd=tmp_path)

    assert reported.returncode == 0, reported.stderr
    webinar = next(line for line in reported.stdout.splitlines() if line.strip().startswith("webinar_attended"))
    blog = next(line for line in reported.stdout.splitlines() if line.strip().startswith("blog_view"))
    assert float(webinar.split()[-1].rstrip("%")) > 60.0 > float(blog.split()[-1].rstrip("%"))
