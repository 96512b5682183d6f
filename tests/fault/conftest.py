"""The fault suite's outcome report: each fault test records what it measured, shown after the run.

Every module here marks its tests ``fault`` (and ``kafka``): ``./run-tests -m fault`` runs them alone.
The outcomes are printed in pytest's terminal summary and, with ``LEADSTREAM_FAULT_REPORT=<file>``,
written there as JSON lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

OUTCOMES = pytest.StashKey[list[dict[str, Any]]]()


@pytest.fixture
def fault_outcome(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Records one fault's measured outcome: ``fault_outcome("worker crash", sent=..., ...)``."""
    outcomes = request.config.stash.setdefault(OUTCOMES, [])

    def record(fault: str, **measured: Any) -> None:
        outcome = {"fault": fault, "test": request.node.name, **measured}
        outcomes.append(outcome)
        print(f"\nFAULT OUTCOME {json.dumps(outcome)}")
        report = os.environ.get("LEADSTREAM_FAULT_REPORT")
        if report:
            with open(report, "a") as file:
                file.write(json.dumps(outcome) + "\n")

    return record


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcomes = config.stash.get(OUTCOMES, [])
    if not outcomes:
        return
    terminalreporter.section("fault outcomes")
    for outcome in outcomes:
        measured = ", ".join(f"{name}={value}" for name, value in outcome.items() if name not in ("fault", "test"))
        terminalreporter.write_line(f"{outcome['fault']}: {measured}")

