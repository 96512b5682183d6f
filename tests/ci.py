"""The suite's one CI switch, and the few skips CI lets through.

Any truthy ``CI`` means CI (runners set ``true``, ``1``, ``yes`` or their own name): there a test
that cannot run fails instead of skipping, Hypothesis uses the CI profile, and the session fails
on any skip not in ``ALLOWED_SKIPS`` (tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import NoReturn

import pytest

FALSE_VALUES = frozenset({"", "0", "false", "no"})

# Skip reasons, word for word, so a skip and its allow-list entry cannot drift apart.
DOCKER_COMPOSE_MISSING = "the docker compose plugin is not installed; the YAML-level tests below still run"

# Skips CI accepts, each with why: the reason text must equal the skip's reason exactly.
ALLOWED_SKIPS: Mapping[str, str] = {
    DOCKER_COMPOSE_MISSING:
        "Docker is not a test dependency (CI machines need not have it); the same compose file's "
        "YAML, images, ports and variables are checked without it in test_monitoring_config.py",
}


def running_under_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CI`` is set to anything but empty, 0, false or no (any case)."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in FALSE_VALUES


def skip_or_fail_under_ci(reason: str, needed_for: str) -> NoReturn:
    """Skip locally; under CI fail, since a skip there would hide what the test guards."""
    if running_under_ci():
        pytest.fail(f"CI must run {needed_for}, but: {reason}", pytrace=False)
    pytest.skip(reason)


def sort_skips(
    skips: Iterable[tuple[str, str]], allowed: Mapping[str, str] = ALLOWED_SKIPS,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Splits (test id, reason) skips into those the allow-list lets through and those it does not."""
    let_through, unlisted = [], []
    for nodeid, reason in skips:
        (let_through if reason in allowed else unlisted).append((nodeid, reason))
    return let_through, unlisted


def skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    """The reason a skipped report was given (pytest.skip's text, without the "Skipped: " prefix)."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


class SkipCheck:
    """Under CI, a skip outside ALLOWED_SKIPS fails the session; the summary shows what was allowed."""

    def __init__(self) -> None:
        self.skips: list[tuple[str, str]] = []

    def _record(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skips.append((report.nodeid, skip_reason(report)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        _, unlisted = sort_skips(self.skips)
        if unlisted and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        let_through, unlisted = sort_skips(self.skips)
        write = terminalreporter.write_line
        terminalreporter.section("skips under CI")
        write("allow-list (tests/ci.py ALLOWED_SKIPS):")
        for reason, why in ALLOWED_SKIPS.items():
            write(f"  {reason!r}: {why}")
        write(f"let through: {len(let_through)}")
        for nodeid, reason in let_through:
            write(f"  {nodeid}: {reason}")
        if unlisted:
            write(f"NOT ALLOWED under CI, so the run fails: {len(unlisted)}", red=True, bold=True)
            for nodeid, reason in unlisted:
                write(f"  {nodeid}: {reason}", red=True)


def register_skip_check(config: pytest.Config) -> None:
    """Under CI, judges the session's skips (only the controlling process: xdist workers report to it)."""
    if running_under_ci() and not hasattr(config, "workerinput"):
        config.pluginmanager.register(SkipCheck(), "leadstream-ci-skip-check")
