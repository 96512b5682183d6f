"""The in-process topology benchmark runs the worker's pipeline end to end and reports what it handed on."""

from __future__ import annotations

import os
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


def test_the_in_process_memory_store_does_not_leak_to_workers_started_after_it():
    """Worker processes inherit the environment: a test process that ran the pipeline bench must still start them
    on their default store."""
    script = ("import os, bench.topology as topology; "
              "print(topology.app.conf.store.scheme, os.environ.get('LEADSTREAM_STORE'))")
    env = {key: value for key, value in os.environ.items() if key != "LEADSTREAM_STORE"}
    shown = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["memory", "None"]
