"""`leadstream dev` ends whole: a closed terminal (SIGHUP) or a killed dev leaves no child and no port
behind, and events a user sends by hand during the run are counted as theirs, not as an alarm."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.e2e.cli import leadstream_command

pytestmark = pytest.mark.embedded
HAND_SENT = 6


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 150.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text(), re.MULTILINE):
                return found
            assert self.process.poll() is None, f"dev exited {self.process.returncode}:\n{self.text()[-3000:]}"
            time.sleep(0.3)
        raise AssertionError(f"dev never printed {pattern!r}:\n{self.text()[-3000:]}")

    def children(self) -> dict[str, tuple[int, int]]:
        """{role: (pid, port)} as dev printed them."""
        text = self.text()
        broker = re.search(r"^broker .* on 127\.0\.0\.1:(\d+), pid (\d+)", text, re.MULTILINE)
        worker = re.search(r"^worker +pid (\d+), http://127\.0\.0\.1:(\d+)", text, re.MULTILINE)
        collector = re.search(r"^collector pid (\d+), http://127\.0\.0\.1:(\d+)", text, re.MULTILINE)
        assert broker and worker and collector, text
        return {"broker": (int(broker[2]), int(broker[1])), "worker": (int(worker[1]), int(worker[2])),
                "collector": (int(collector[1]), int(collector[2]))}


def start_dev(tmp_path: Path, *args: str) -> DevRun:
    output = tmp_path / "dev.out"
    with open(output, "wb") as out:
        # Its own session, as a shell gives a job: the signals below reach dev alone, not its children.
        process = subprocess.Popen([*leadstream_command(), "dev", *args], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return DevRun(process, output)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until_gone(children: dict[str, tuple[int, int]], timeout: float = 60.0) -> dict[str, tuple[int, int]]:
    """The children still running or still holding their port once ``timeout`` ran out (none, we hope)."""
    deadline = time.monotonic() + timeout
    while True:
        left = {role: (pid, port) for role, (pid, port) in children.items() if alive(pid) or not port_free(port)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.3)


def send_by_hand(collector_port: int) -> None:
    """What the README invites: a few events of one's own, as a browser would send them."""
    batch = {"batch": [{"type": "track", "userId": f"by-hand-{n}", "event": "Demo Requested",
                        "messageId": f"by-hand-{n}"} for n in range(HAND_SENT)]}
    request = urllib.request.Request(
        f"http://127.0.0.1:{collector_port}/v1/batch", data=orjson.dumps(batch),
        headers={"Content-Type": "application/json",
                 "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"})
    with urllib.request.urlopen(request, timeout=15) as answer:
        assert answer.status == 200


@pytest.fixture
def cleanup():
    """Whatever a failing test leaves running is stopped: dev, and each child it printed."""
    runs: list[DevRun] = []
    yield runs
    for run in runs:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        try:
            children = run.children()
        except AssertionError:
            continue  # it never printed them
        for pid, _ in children.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_sighup_stops_dev_with_its_children_and_hand_sent_events_are_no_alarm(tmp_path: Path, cleanup):
    summary_path = tmp_path / "summary.json"
    run = start_dev(tmp_path, "--leads", "40", "--wave-seconds", "15", "--summary-json", str(summary_path))
    cleanup.append(run)
    run.wait_for(r"^ready ")
    children = run.children()
    send_by_hand(children["collector"][1])
    run.wait_for(r"── funnel: .* sent [1-9]")  # the simulator is sending too

    os.kill(run.process.pid, signal.SIGHUP)  # what closing the terminal sends
    run.process.wait(timeout=150)

    assert wait_until_gone(children) == {}, run.text()[-3000:]
    output = run.text()
    assert run.process.returncode == 0, output[-3000:]
    summary = orjson.loads(summary_path.read_bytes())
    assert summary["adds_up"] is True and summary["problems"] == []
    assert summary["from_elsewhere"]["to_collector"] == HAND_SENT
    assert summary["collector"]["received"] == summary["events_sent"] + HAND_SENT
    assert f"events not from the simulator: {HAND_SENT} sent to the collector by someone else" in output
    assert "accounting adds up" in output and "DOES NOT ADD UP" not in output


def test_a_killed_dev_takes_its_children_with_it_and_no_simulate_says_what_runs(tmp_path: Path, cleanup):
    run = start_dev(tmp_path, "--no-simulate")
    cleanup.append(run)
    ready = run.wait_for(r"^ready .*$")[0]
    assert "simulated visitors" not in ready
    assert "no simulated traffic (--no-simulate): broker, worker and collector only" in ready
    children = run.children()

    run.process.kill()  # no chance to stop anything itself: the kernel's parent-death signal must
    run.process.wait(timeout=30)

    assert wait_until_gone(children) == {}, run.text()[-3000:]
