"""The suite's CI switch (tests/ci.py): which `CI` values mean CI, and the skip check it arms.

The check itself is run on a throwaway pytest session in a subprocess, so the real hook
(exit status and summary) is what is proven, not a copy of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci import ALLOWED_SKIPS, DOCKER_COMPOSE_MISSING, running_under_ci, sort_skips

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["true", "1", "yes", "True", "YES", "github-actions", " on "])
def test_any_truthy_ci_means_ci(value: str):
    assert running_under_ci({"CI": value})


@pytest.mark.parametrize("value", [None, "", "0", "false", "no", "FALSE", " No "])
def test_unset_empty_or_falsy_ci_is_not_ci(value: str | None):
    assert not running_under_ci({} if value is None else {"CI": value})


def test_only_allow_listed_reasons_are_let_through():
    skips = [("a.py::t1", DOCKER_COMPOSE_MISSING), ("b.py::t2", "Apache Kafka cannot run here: no java"),
             ("c.py::t3", DOCKER_COMPOSE_MISSING.upper())]

    let_through, unlisted = sort_skips(skips)

    assert let_through == [("a.py::t1", DOCKER_COMPOSE_MISSING)]
    assert unlisted == [("b.py::t2", "Apache Kafka cannot run here: no java"),
                        ("c.py::t3", DOCKER_COMPOSE_MISSING.upper())]


def test_a_reason_must_match_whole_not_just_begin_like_an_allowed_one():
    assert sort_skips([("t", DOCKER_COMPOSE_MISSING + " (and Kafka is missing too)")]) == (
        [], [("t", DOCKER_COMPOSE_MISSING + " (and Kafka is missing too)")])
    assert sort_skips([("t", "anything")], allowed={}) == ([], [("t", "anything")])


def test_every_allowed_skip_says_why():
    assert ALLOWED_SKIPS and all(why.strip() for why in ALLOWED_SKIPS.values())


SESSION_CONFTEST = """
from tests.ci import register_skip_check

def pytest_configure(config):
    register_skip_check(config)
"""
SESSION_TESTS = """
import pytest
from tests.ci import DOCKER_COMPOSE_MISSING

def test_passes():
    pass

def test_allowed():
    pytest.skip(DOCKER_COMPOSE_MISSING)

@pytest.mark.xfail(reason="expected")
def test_xfail_is_no_skip():
    assert False
"""


def run_session(tmp_path: Path, ci: str | None, extra_test: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(SESSION_CONFTEST)
    (tmp_path / "test_session.py").write_text(SESSION_TESTS + extra_test)
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "-c", os.devnull, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


UNLISTED_SKIP = """
def test_unlisted():
    pytest.skip("Apache Kafka cannot run here: java is not on PATH")
"""


def test_under_ci_an_unlisted_skip_fails_the_session_and_is_named(tmp_path: Path):
    run = run_session(tmp_path, "1", UNLISTED_SKIP)

    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "skips under CI" in run.stdout and DOCKER_COMPOSE_MISSING in run.stdout
    assert "NOT ALLOWED under CI, so the run fails: 1" in run.stdout
    assert "test_session.py::test_unlisted: Apache Kafka cannot run here: java is not on PATH" in run.stdout


def test_under_ci_allowed_skips_pass_and_the_summary_lists_them(tmp_path: Path):
    run = run_session(tmp_path, "yes")

    assert run.returncode == pytest.ExitCode.OK, run.stdout + run.stderr
    assert "allow-list (tests/ci.py ALLOWED_SKIPS):" in run.stdout
    assert "let through: 1" in run.stdout
    assert f"test_session.py::test_allowed: {DOCKER_COMPOSE_MISSING}" in run.stdout
    assert "NOT ALLOWED" not in run.stdout


def test_outside_ci_skips_pass_and_nothing_is_judged(tmp_path: Path):
    run = run_session(tmp_path, "0", UNLISTED_SKIP)

    assert run.returncode == pytest.ExitCode.OK, run.stdout + run.stderr
    assert "skips under CI" not in run.stdout
