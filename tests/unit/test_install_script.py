"""scripts/venv.sh, which ./run-dev and ./run-tests source: a first install says one line, failures show why.

The venv's python is a stand-in script here (it says so): it answers as pip does, with setuptools'
editable-install warning on stderr, without installing anything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "venv.sh"
BUILD_WARNING = "BuildBackendWarning: Editable installation."


def stand_in_venv(tmp_path: Path, exit_status: int) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    # A stand-in for the venv's python: talks like pip with a setuptools backend, installs nothing.
    python.write_text(f"#!/bin/sh\necho 'Looking in indexes: ...'\necho '  {BUILD_WARNING}' >&2\n"
                      f"echo '  !! Please be careful with folders in your working directory' >&2\nexit {exit_status}\n")
    python.chmod(0o755)
    return venv


def ensure(venv: Path) -> subprocess.CompletedProcess[str]:
    command = f'source "{SCRIPT}"; VENV="{venv}"; ensure_venv dev && echo installed'
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})


def test_a_first_install_says_what_it_does_in_one_line_and_no_build_warning(tmp_path: Path):
    venv = stand_in_venv(tmp_path, exit_status=0)

    run = ensure(venv)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "installed\n"
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("installing leadstream"), run.stderr
    assert BUILD_WARNING in (venv / "install.log").read_text(), "what pip said is kept in the log"
    assert ensure(venv).stderr == "", "once installed, nothing is said until the pins change"


def test_a_failed_install_shows_the_end_of_its_log_and_stops(tmp_path: Path):
    run = ensure(stand_in_venv(tmp_path, exit_status=1))

    assert run.returncode != 0 and "installed" not in run.stdout
    assert "the install failed" in run.stderr and BUILD_WARNING in run.stderr
