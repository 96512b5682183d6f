"""The scoring core stays pure: no stream stack, no clock, no I/O, no randomness, nothing of the shell.

Every module under scoring/ (sub-packages too) is read with ``ast``, so an import or a call
inside a function counts as much as one at the top. The one I/O the core keeps is reading the
model file at start (``scoring/model_loading.py``); it is allowed there by name and nowhere else.
"""

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
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)

STREAM_STACK = ("faust", "aiokafka", "prometheus_client")
CLOCKS = {"time", "datetime", "calendar", "zoneinfo"}
IO = {"asyncio", "socket", "ssl", "select", "selectors", "http", "urllib", "requests", "httpx", "aiohttp",
      "subprocess", "os", "io", "shutil", "tempfile", "sqlite3", "logging", "threading", "multiprocessing",
      "signal", "sys", "pathlib", "importlib"}
RANDOMNESS = {"random", "secrets", "uuid"}
THE_SHELL = {"streams", "bench", "schemas", "tests"}
FORBIDDEN_IMPORTS = {*STREAM_STACK, *CLOCKS, *IO, *RANDOMNESS, *THE_SHELL}
# Calls that read or write outside the process, by the name or attribute they end in.
IO_CALLS = {"open", "print", "input", "read_text", "read_bytes", "write_text", "write_bytes", "urlopen"}
# The model file is read at start, by the two functions that read it: the only I/O the core keeps.
MODEL_FILE_READER = "model_loading.py"
ALLOWED = {MODEL_FILE_READER: ({"pathlib", "importlib"}, {"read_text"})}
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


def io_calls(tree: ast.AST, allowed: set[str] = frozenset()) -> list[str]:
    return [
        f"line {node.lineno}: {ast.unparse(node.func)}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called_name(node) in IO_CALLS - allowed
    ]


def test_the_purity_checks_see_every_module_of_the_package():
    on_disk = {os.path.join(folder, name) for folder, _, names in os.walk(PACKAGE) for name in names
               if name.endswith(".py")}

    assert {str(path) for path in MODULES} == on_disk
    assert {path.stem for path in MODULES} >= {"engine", "decay", "model", "model_loading", "signals", "stages",
                                               "state", "criteria", "fit", "profile", "qualification", "explain",
                                               "changes", "calibration", "replay"}


def test_the_import_check_catches_forbidden_imports():
    tree = ast.parse("import time\nfrom datetime import datetime\nimport faust.app\n"
                     "importlib.import_module('aiokafka')\nfrom .decay import x\n"
                     "def f():\n    from streams.config import settings\n    import random\n")
    assert imported_roots(tree) == {"time", "datetime", "faust", "aiokafka", "streams", "random"}
    assert imported_roots(tree) - FORBIDDEN_IMPORTS == set()


def test_the_io_check_catches_file_and_console_io():
    tree = ast.parse("def f(path):\n    print(open(path).read(), Path(path).read_text())\n")
    assert len(io_calls(tree)) == 3


def test_the_clock_check_catches_clock_reads():
    tree = ast.parse("def f():\n    return time.monotonic() + datetime.now().timestamp() + perf_counter()\n")
    assert len(clock_calls(tree)) == 3


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_scoring_module_imports_no_stream_stack_clock_or_network(path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    allowed, _ = ALLOWED.get(str(path.relative_to(PACKAGE)), (set(), set()))

    assert imported_roots(tree) & (FORBIDDEN_IMPORTS - allowed) == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_function_in_a_scoring_module_does_io_but_the_model_file_reader(path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    _, allowed = ALLOWED.get(str(path.relative_to(PACKAGE)), (set(), set()))

    assert io_calls(tree, allowed) == []


def test_the_model_file_is_read_in_one_place():
    tree = ast.parse((PACKAGE / MODEL_FILE_READER).read_text("utf-8"))
    readers = sorted(function.name for function in ast.walk(tree) if isinstance(function, ast.FunctionDef)
                     and io_calls(function))

    assert readers == ["default_model_text", "load_model"]


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_function_in_a_scoring_module_reads_a_clock(path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))

    assert clock_calls(tree) == []


def test_importing_every_scoring_module_loads_no_stream_stack_nor_the_shell_even_indirectly():
    names = ", ".join(sorted(".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                             for path in MODULES))
    program = (
        f"import sys, {names}\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {(*STREAM_STACK, *THE_SHELL)!r})))\n"
    )
    run = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)

    assert run.stdout.strip() == ""
