"""How a parallel run (pytest-xdist, ``-n N --dist loadfile``, as ./run-tests runs) shares out the suite.

Each test file goes whole to one xdist worker, so its module fixtures (a pipeline, a broker)
are built once. The files in ``SERIAL_MODULES`` go together, as one unit, to a single worker that
runs them one after another; everything else runs beside them. The serial unit is handed out
first and the unit tests last: the longest work starts first, the short files fill the gaps.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import pytest

# Path prefixes, each with why its files run one after another rather than side by side.
SERIAL_MODULES: Mapping[str, str] = {
    "tests/fault/":
        "each injects a fault (a crash, a lost broker, a flood, a rebalance) and records what it "
        "measured: one fault's load must not be another's",
    "tests/integration/test_demotions.py":
        "scores decay on the wall clock with half-lives of seconds while the test watches",
    "tests/integration/test_continuous_improvement.py":
        "its demotions run on the wall clock too, and replaying them must reproduce the live run exactly",
}
SERIAL_UNIT = "serial modules (tests/parallel_plan.py)"


def is_serial(nodeid: str) -> bool:
    return nodeid.startswith(tuple(SERIAL_MODULES))


def start_order(nodeid: str) -> int:
    """0: the serial unit, 1: files on Kafka, processes or a browser, 2: unit tests (short, they fill gaps)."""
    if is_serial(nodeid):
        return 0
    return 2 if nodeid.startswith("tests/unit/") else 1


def order_for_parallel_run(config: pytest.Config, items: list[Any]) -> None:
    """In xdist workers only, the items in start order (stable: each file's tests stay as written).

    Every worker sorts alike, so their collections still agree, and the controller hands out
    files in this order (SerialGroupScheduling turns off xdist's by-size reordering).
    """
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: start_order(item.nodeid))


def register_parallel_plan(config: pytest.Config) -> None:
    """On the controller of a run with pytest-xdist installed: ``--dist loadfile`` uses the plan above."""
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(ParallelPlan(), "leadstream-parallel-plan")


class ParallelPlan:
    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "loadfile":
            return None
        config.option.loadscopereorder = False  # keep the start order the workers collected in
        return serial_group_scheduling()(config, log)


@cache
def serial_group_scheduling() -> type:
    """xdist's --dist loadfile, except that the serial modules are one unit of work."""
    from xdist.scheduler import LoadFileScheduling  # here: only a run with xdist calls this

    class SerialGroupScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SERIAL_UNIT if is_serial(nodeid) else super()._split_scope(nodeid)

    return SerialGroupScheduling
