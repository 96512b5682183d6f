"""The scoring core stays pure: no stream stack, no clock, no I/O modules."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import scoring

PACKAGE = Path(scoring.__file__).resolve().parent
REPO = PACKAGE.parent
MODULES = sorted(PACKAGE.glob("*.py"))

FORBIDDEN_IMPORTS = {"faust", "aiokafka", "prometheus_client", "time", "datetime", "asyncio", "socket"}
STREAM_STACK = ("faust", "aiokafka", "prometheus_client")
# Calls that read the wall or monotonic clock, by the attribute or name they end in.
CLOCK_READS = {
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
    "process_time", "now", "utcnow", "today", "localtime", "gmtime", "ctime",
}


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _called_name(node) in {"__import__", "import_module"}:
            roots |= {arg.value.split(".")[0] for arg in node.args
                      if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return roots


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def clock_calls(tree: ast.AST) -> list[str]:
    return [
        f"line {node.lineno}: {ast.unparse(node.func)}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called_name(node) in CLOCK_READS
    ]


def test_the_purity_checks_see_every_module_of_the_package():
    assert {path.stem for path in MODULES} >= {"engine", "decay", "model", "signals", "stages", "state", "criteria",
                                               "fit", "profile", "qualification", "explain", "changes"}


def test_the_import_check_catches_forbidden_imports():
    tree = ast.parse("import time\nfrom datetime import datetime\nimport faust.app\n"
                     "importlib.import_module('aiokafka')\nfrom .decay import x\n")
    assert imported_roots(tree) == {"time", "datetime", "faust", "aiokafka"}


def test_the_clock_check_catches_clock_reads():
    tree = ast.parse("def f():\n    return time.monotonic() + datetime.now().timestamp() + perf_counter()\n")
    assert len(clock_calls(tree)) == 3


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_a_scoring_module_imports_no_stream_stack_clock_or_network(path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))

    assert imported_roots(tree) & FORBIDDEN_IMPORTS == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_no_function_in_a_scoring_module_reads_a_clock(path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))

    assert clock_calls(tree) == []


def test_importing_scoring_loads_no_stream_stack_even_indirectly():
    program = (
        "import sys, scoring\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {STREAM_STACK!r})))\n"
    )
    run = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)

    assert run.stdout.strip() == ""
