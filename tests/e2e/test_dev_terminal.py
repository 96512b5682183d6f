"""`leadstream dev` on a terminal: its panel holds its place and updates there (seen through tmux's screen)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from streams.devtools.live_panel import TITLE
from tests.ci import skip_or_fail_under_ci
from tests.e2e.cli import leadstream_command

pytestmark = pytest.mark.embedded

RUN_S = 30
WAIT_S = 150.0  # start-up on a busy machine, the run, and its drain
PANEL_TOP = re.compile(rf"─ {re.escape(TITLE)} ─")
DECAYED = re.compile(r"\[decay\] +(lead-\d+-\d+) ")
DAY_S = 86_400.0
SENT = re.compile(r"│ events +sent (\d+) \((\d+)/s\)")


class Terminal:
    """A tmux session of a fixed size running one command; what it shows is read as a user sees it."""

    def __init__(self, command: list[str], workdir: Path) -> None:
        self.name = f"leadstream-dev-{uuid.uuid4().hex[:8]}"
        self.done = workdir / "exit-status"
        # The shell stays after dev exits, so the screen (and its history) can still be read.
        script = f"{shlex.join(command)}; echo $? > {shlex.quote(str(self.done))}; sleep 600"
        # A tmux server of its own (-L): it inherits this process's environment, and touches no other session.
        self.tmux = ["tmux", "-L", self.name]
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", "200", "-y", "50", "sh", "-c", script],
                       check=True, timeout=20)
        subprocess.run([*self.tmux, "set-option", "-t", self.name, "history-limit", "20000"], check=True, timeout=20)

    def screen(self) -> str:
        return self._capture("-p")

    def history(self) -> str:
        """Everything written to the terminal that is still on screen or scrolled off it."""
        return self._capture("-p", "-S", "-", "-E", "-")

    def _capture(self, *options: str) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-t", self.name, *options], check=True, text=True,
                              capture_output=True, timeout=20).stdout

    def wait_for(self, condition: Callable[[str], object], what: str, timeout_s: float = WAIT_S) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            time.sleep(0.5)
        raise AssertionError(f"the terminal never showed {what} within {timeout_s:.0f} s; it shows:\n{self.history()}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False, timeout=20, capture_output=True)


@pytest.fixture
def terminal_dev(tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        skip_or_fail_under_ci("tmux is not installed", "the terminal test of leadstream dev's panel")
    terminal = Terminal([*leadstream_command(), "dev", "--duration", str(RUN_S), "--summary-json",
                         str(tmp_path / "summary.json")], tmp_path)
    try:
        yield terminal
    finally:
        terminal.close()


def _the_board_charts_a_cooled_lead_over_demo_days(terminal: Terminal) -> None:
    """The worker's board reads the demo's clock: a lead's scores are drawn over days, decay included."""
    board = re.search(r"^board +(http://127\.0\.0\.1:\d+)/board$", terminal.history(), re.MULTILINE)
    assert board, terminal.history()
    screen = terminal.wait_for(lambda screen: re.search(DECAYED, screen), "a lead cooling by decay")
    lead = re.search(DECAYED, screen).group(1)
    with urllib.request.urlopen(f"{board.group(1)}/leads/{lead}/history", timeout=20) as response:
        history = orjson.loads(response.read())
    times = history["series"]["t"]
    assert times[-1] - times[0] > 7 * DAY_S, "the chart spans the demo's days, not the run's seconds"
    assert times[-1] > time.time() + DAY_S, "its now is the demo clock's, ahead of the wall"
    assert "decay" in {move["cause"] for move in history["moves"]}
    with urllib.request.urlopen(f"{board.group(1)}/board/leads/{lead}", timeout=20) as response:
        page = response.read().decode()
    assert 'data-series="intent"' in page


def _sent(screen: str) -> int | None:
    found = SENT.search(screen)
    return int(found.group(1)) if found else None


def test_the_panel_updates_in_place_with_recent_changes_beneath_it(terminal_dev: Terminal):
    first = terminal_dev.wait_for(lambda screen: (_sent(screen) or 0) > 0, "the panel counting events sent")
    later = terminal_dev.wait_for(lambda screen: (_sent(screen) or 0) > (_sent(first) or 0),
                                  "the panel's count of events sent go up")
    # The same panel, redrawn where it was: one on the screen, and one in all that was ever written.
    assert len(PANEL_TOP.findall(later)) == 1, later
    assert len(PANEL_TOP.findall(terminal_dev.history())) == 1, terminal_dev.history()
    panel_row = next(i for i, line in enumerate(later.splitlines()) if PANEL_TOP.search(line))
    assert panel_row == next(i for i, line in enumerate(first.splitlines()) if PANEL_TOP.search(line))
    assert "recent changes" in later.split(TITLE, 1)[1], "the recent changes are listed beneath the panel"
    _the_board_charts_a_cooled_lead_over_demo_days(terminal_dev)
    # Each change shows once on the screen, however often the panel was redrawn.
    change_lines = [line for line in later.splitlines() if re.search(r"^\s+\d+\.\d+s day ", line)]
    assert change_lines and len(change_lines) == len(set(change_lines)), later

    finished = terminal_dev.wait_for(lambda screen: "accounting adds up" in screen or "DOES NOT ADD UP" in screen,
                                     "the run's summary")
    assert "accounting adds up" in finished
    terminal_dev.wait_for(lambda _: terminal_dev.done.exists(), "dev exit", timeout_s=30)
    assert terminal_dev.done.read_text().strip() == "0"
    assert len(PANEL_TOP.findall(terminal_dev.history())) == 1, "the panel is left once, above the summary"
