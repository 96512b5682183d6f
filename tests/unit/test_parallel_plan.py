"""The parallel run's plan (tests/parallel_plan.py): which files share a worker and what starts first."""

from __future__ import annotations

from pathlib import Path

from tests.parallel_plan import SERIAL_MODULES, SERIAL_UNIT, is_serial, serial_group_scheduling, start_order

TESTS = Path(__file__).parents[1]


def test_every_serial_entry_names_test_files_that_exist():
    for prefix in SERIAL_MODULES:
        matches = list(TESTS.parent.glob(prefix + "test_*.py")) if prefix.endswith("/") else [TESTS.parent / prefix]
        assert matches and all(path.is_file() for path in matches), prefix


def test_the_fault_demotion_and_improvement_files_are_serial_and_the_rest_is_not():
    assert is_serial("tests/fault/test_worker_crash.py::test_a_worker_killed_mid_stream_loses_nothing")
    assert is_serial("tests/integration/test_demotions.py::test_x")
    assert is_serial("tests/integration/test_continuous_improvement.py::test_x")
    assert not is_serial("tests/integration/test_pipeline.py::test_x")
    assert not is_serial("tests/unit/test_engine.py::test_x")


def test_the_serial_unit_starts_first_and_unit_tests_last():
    order = sorted(["tests/unit/test_engine.py::a", "tests/integration/test_pipeline.py::b",
                    "tests/fault/test_poison.py::c"], key=start_order)
    assert order == ["tests/fault/test_poison.py::c", "tests/integration/test_pipeline.py::b",
                     "tests/unit/test_engine.py::a"]


def test_xdist_puts_the_serial_files_in_one_unit_and_every_other_file_in_its_own():
    scheduling = serial_group_scheduling()
    scheduler = scheduling.__new__(scheduling)  # its scopes need no nodes, which __init__ would look for
    scopes = {scheduler._split_scope(nodeid) for nodeid in (
        "tests/fault/test_poison.py::a", "tests/fault/test_restarts.py::b", "tests/integration/test_demotions.py::c",
        "tests/integration/test_pipeline.py::d", "tests/integration/test_pipeline.py::e", "tests/unit/test_engine.py::f",
    )}
    assert scopes == {SERIAL_UNIT, "tests/integration/test_pipeline.py", "tests/unit/test_engine.py"}
