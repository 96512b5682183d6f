"""The fault outcomes tests/fault/ records, gathered from the test reports and shown in the summary.

A plugin of the session's controlling process (tests/conftest.py registers it): under xdist the
fault tests run in a worker, whose own summary nobody sees, and their reports reach the controller.
"""

from __future__ import annotations

from typing import Any

import pytest

OUTCOME_PROPERTY = "fault outcome"


class FaultReport:
    def __init__(self) -> None:
        self.outcomes: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.outcomes += [value for name, value in report.user_properties if name == OUTCOME_PROPERTY]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.outcomes:
            return
        terminalreporter.section("fault outcomes")
        for outcome in self.outcomes:
            measured = ", ".join(f"{name}={value}" for name, value in outcome.items() if name not in ("fault", "test"))
            terminalreporter.write_line(f"{outcome['fault']}: {measured}")


def register_fault_report(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(FaultReport(), "leadstream-fault-report")
