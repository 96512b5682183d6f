"""Files holding personal data are created readable by their owner only, whatever the umask says.

The export command's own mode is checked where it runs for real (tests/e2e/test_history_commands.py).
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from streams.alerting.change import decode_change
from streams.alerting.dead_letter import DeadLetters
from streams.alerting.sinks import Delivery, FailureReason, Result
from streams.private_files import open_private, write_private
from tests.integration.alert_fixtures import encoded, turning_hot


@pytest.fixture
def permissive_umask():
    """The umask that would make a plain open() world-readable and writable."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_private_file_is_0600_even_under_umask_0(tmp_path: Path, permissive_umask):
    write_private(tmp_path / "export.jsonl", b"ada@acme.io\n")
    assert mode_of(tmp_path / "export.jsonl") == 0o600
    assert (tmp_path / "export.jsonl").read_bytes() == b"ada@acme.io\n"


def test_an_existing_world_readable_file_is_narrowed_when_written_again(tmp_path: Path):
    path = tmp_path / "old-export.jsonl"
    path.write_bytes(b"old")
    path.chmod(0o644)
    with open_private(path, "ab") as file:
        file.write(b" and new")
    assert mode_of(path) == 0o600
    assert path.read_bytes() == b"old and new"


def test_the_alerts_dead_letter_file_is_0600_when_written_and_after_erasure_rewrites_it(
    tmp_path: Path, permissive_umask,
):
    path = tmp_path / "alerts-dead-letters.jsonl"
    letters = DeadLetters(path)
    failed = Delivery(Result.FAILED, attempts=4, last_status=500, reason=FailureReason.RETRIES_EXHAUSTED)
    for lead in ("ada@acme.io", "grace@acme.io"):
        asyncio.run(letters.write(decode_change(encoded(turning_hot(lead))), failed, "webhook", 0.0))
    assert mode_of(path) == 0o600

    assert asyncio.run(letters.forget("ada@acme.io")) == 1
    assert b"ada@acme.io" not in path.read_bytes() and b"grace@acme.io" in path.read_bytes()
    assert mode_of(path) == 0o600
