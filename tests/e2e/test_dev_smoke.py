"""`leadstream dev` on the embedded broker: the demo runs through the collector, scores and accounts for every event."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import orjson
import pytest

from streams.devtools.brokers import BrokerBinaryMissing, tansu_binary
from tests.e2e.cli import leadstream_command

pytestmark = pytest.mark.embedded


def test_leadstream_dev_runs_end_to_end_and_its_summary_adds_up(tmp_path: Path):
    try:
        tansu_binary()
    except BrokerBinaryMissing as missing:
        pytest.fail(f"the embedded broker ships with the package, yet: {missing}")
    summary_path = tmp_path / "summary.json"

    # The issue's own command: a minute on the demo's default clock.
    run = subprocess.run(
        [*leadstream_command(), "dev", "--duration", "60", "--summary-json", str(summary_path)],
        capture_output=True, text=True, timeout=240,
    )

    assert run.returncode == 0, f"dev exited {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    summary = orjson.loads(summary_path.read_bytes())
    accounting, collector = summary["accounting"], summary["collector"]
    assert summary["broker"]["kind"] == "embedded"
    assert summary["events_sent"] > 100
    assert summary["adds_up"] is True
    # Every event went through the collector: what it accepted, the worker received and put in a bucket.
    assert collector["received"] == summary["events_sent"]
    assert collector["received"] == collector["accepted"] + collector["rejected"] + collector["consent_refused"]
    assert accounting["received"] == collector["accepted"]
    assert accounting["received"] == (accounting["scored"] + accounting["ignored"] + accounting["deduplicated"]
                                      + accounting["dead_lettered"] + accounting["held"])
    # The simulator sends crawlers, broken payloads and retries: each lands in its own bucket. Broken
    # bodies are answered 400 at the edge and never reach Kafka.
    sent = summary["events_sent_by_label"]
    assert collector["rejected_by_reason"].get("malformed_json", 0) == sent.get("malformed", 0)
    assert accounting["dead_lettered"] == 0
    # Known visitors browse anonymously first; identify credits that history, the rest stays held.
    assert accounting["held"] > 0
    assert collector["bot_events"] == summary["events_sent_by_label"].get("bot", 0)
    # A retried unmapped click is ignored again rather than deduplicated: only scored events are remembered.
    assert 0 < accounting["deduplicated"] <= summary["events_sent_by_label"].get("duplicate", 0)
    assert accounting["ignored_by_reason"].get("bot", 0) == summary["events_sent_by_label"].get("bot", 0)
    # Leads really move: some warm up, a few turn hot, and the terminal showed it.
    assert summary["transitions"]["temperature"].get("cold→warm", 0) > 0
    assert summary["transitions"]["temperature"].get("warm→hot", 0) > 0
    assert summary["leads_per_stage"].get("sql", 0) > 0
    assert "warm→hot" in run.stdout
    assert "adds up" in run.stdout
    # Piped, the view is plain lines: no colour, no cursor movement, no panel.
    assert "\x1b" not in run.stdout and "\r" not in run.stdout
    assert "─ leadstream dev ─" not in run.stdout
    # On the demo's fast clock, leads also cool within the minute: time alone moves them, marked as such.
    transitions = summary["transitions"]
    assert summary["clock"]["kind"] == "scaled" and summary["clock"]["demo_days"] > 60
    assert transitions["by_cause"].get("decay", 0) >= 1, transitions
    decayed = transitions["temperature_by_cause"].get("decay", {})
    assert decayed.get("hot→warm", 0) + decayed.get("warm→cold", 0) >= 1, transitions
    assert sum(count for move, count in transitions["temperature"].items() if move.endswith("→hot")) >= 1
    assert "→recycled" in " ".join(transitions["stage_by_cause"].get("decay", {})), transitions
    assert all(sum(moves.values()) <= transitions["by_cause"][cause]
               for cause, moves in transitions["temperature_by_cause"].items())
    decay_lines = [line for line in run.stdout.splitlines() if " [decay] " in line]
    assert len(decay_lines) >= transitions["by_cause"]["decay"], "each decay change is shown, marked"
    # The alerts `leadstream alerts` would send, in its console format: one per lead turning hot or reaching SQL.
    assert summary["alerts"] >= 1
    assert len(re.findall(r"^ALERT  Lead \S+ \(.*\) (turned hot|reached SQL)", run.stdout, re.MULTILINE)) \
        == summary["alerts"]
    assert re.search(r"^board +http://127\.0\.0\.1:\d+/board$", run.stdout, re.MULTILINE), "dev prints the board's address"
