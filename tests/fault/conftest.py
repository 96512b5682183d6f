"""The fault suite's outcome report: each fault test records what it measured, shown after the run.

Every module here marks its tests ``fault`` (and ``kafka``): ``./run-tests -m fault`` runs them alone.
The outcomes ride on each test's report (``user_properties``, which xdist carries from its workers
to the controller), are printed in pytest's terminal summary (tests/fault_report.py) and, with
``LEADSTREAM_FAULT_REPORT=<file>``, written there as JSON lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.fault_report import OUTCOME_PROPERTY


@pytest.fixture
def fault_outcome(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Records one fault's measured outcome: ``fault_outcome("worker crash", sent=..., ...)``."""

    def record(fault: str, **measured: Any) -> None:
        outcome = {"fault": fault, "test": request.node.name, **measured}
        request.node.user_properties.append((OUTCOME_PROPERTY, outcome))
        print(f"\nFAULT OUTCOME {json.dumps(outcome)}")
        report = os.environ.get("LEADSTREAM_FAULT_REPORT")
        if report:
            with open(report, "a") as file:
                file.write(json.dumps(outcome) + "\n")

    return record
