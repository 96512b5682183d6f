"""The in-process topology benchmark runs the worker's pipeline end to end and reports what it handed on."""

from __future__ import annotations

import re
import subprocess
import sys

from bench.topology import START
from bench.workload import generate


def test_every_malformed_event_is_dead_lettered_and_two_rounds_leave_the_same_tables():
    events = 3_000
    result = subprocess.run([sys.executable, "-m", "bench.topology", "--events", str(events), "--rounds", "2"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr  # the rounds' table digests differ: it asserts they do not
    malformed = generate(events, events // 10, seed=7, start=START).labels["malformed"]
    assert malformed > 0
    assert re.search(rf"leads\.events\.dlq {malformed:,}\b", result.stdout), result.stdout
    assert re.search(r"tables digest: [0-9a-f]{16} \([\d,]+ leads\)", result.stdout), result.stdout
