"""The project's modules import each other without a cycle, and the contracts and tools never boot the worker.

Read from the source with ``ast``, not from a running interpreter: every import counts, a
function-local one as much as one at the top (a cycle closed inside a function is still a cycle,
only a later one to find). Relative imports and ``from package import module`` resolve to the
module they name; ``importlib.import_module("...")`` and ``__import__("...")`` with a literal
name count too. The tests' own helpers are left out: they sit on top of everything.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("scoring", "streams", "schemas", "bench")
STREAM_STACK = "faust"


@dataclass
class Graph:
    """Project modules by dotted name: the project modules each imports, and the outside roots it imports."""

    paths: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, set[str]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)

    def owner(self, name: str) -> str | None:
        """The longest prefix of ``name`` that is a project module (``a.b.C`` → ``a.b``), if any."""
        while name and name not in self.paths:
            name = name.rpartition(".")[0]
        return name or None


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, str | None]]:
    """Every import in ``tree``, as (module, name imported from it or None), relative ones made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            found += [(base, alias.name) for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"))):
            found.append((node.args[0].value, None))
    return found


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> Graph:
    graph = Graph()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                graph.paths[module_name(root, path)] = path
    for module, path in graph.paths.items():
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        graph.edges[module], graph.external[module] = set(), set()
        for base, name in imported_names(tree, module, path.name == "__init__.py"):
            target = graph.owner(f"{base}.{name}" if name and name != "*" else base)
            if target is None:
                if base and not base.startswith("__future__"):
                    graph.external[module].add(base.split(".")[0])
            elif target != module:
                graph.edges[module].add(target)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph.edges):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.edges[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def a_cycle_through(graph: Graph, component: list[str]) -> list[str]:
    """One closed path inside ``component``, from its first module back to it, for the failure message."""
    members = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph.edges[node] & members):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{component} is not a cycle")


def loaded_by(graph: Graph, module: str) -> dict[str, str | None]:
    """Every project module importing ``module`` loads, each with the module that imported it.

    Importing ``a.b.c`` also runs ``a`` and ``a.b``: a package's ``__init__`` is loaded with it.
    """
    parent: dict[str, str | None] = {module: None}
    queue = deque([module])
    while queue:
        node = queue.popleft()
        packages = {graph.owner(node.rsplit(".", n)[0]) for n in range(1, node.count(".") + 1)}
        for target in sorted((graph.edges[node] | packages) - {None}):
            if target not in parent:
                parent[target] = node
                queue.append(target)
    return parent


def chain(parent: dict[str, str | None], module: str) -> str:
    path = [module]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return " -> ".join(reversed(path))


def boots(graph: Graph, module: str, forbidden_modules: tuple[str, ...], forbidden_roots: set[str]) -> list[str]:
    """The import chains from ``module`` to a forbidden project module or outside package."""
    parent = loaded_by(graph, module)
    found = [chain(parent, each) for each in parent
             if any(each == bad or each.startswith(bad + ".") for bad in forbidden_modules)]
    found += [f"{chain(parent, each)} -> {root}" for each in parent
              for root in sorted(graph.external[each] & forbidden_roots)]
    return found


GRAPH = import_graph(REPO)


def modules_under(prefix: str) -> list[str]:
    return sorted(m for m in GRAPH.paths if m == prefix or m.startswith(prefix + "."))


def test_the_project_has_no_import_cycle_function_local_imports_included():
    found = [" -> ".join(a_cycle_through(GRAPH, component)) + f"  ({len(component)} modules: {', '.join(component)})"
             for component in cycles(GRAPH)]

    assert not found, "import cycles:\n" + "\n".join(found)


@pytest.mark.parametrize("module", modules_under("streams.contracts"))
def test_a_contract_boots_neither_faust_nor_the_worker_nor_its_web_server(module):
    found = boots(GRAPH, module, ("streams.worker", "streams.api"), {STREAM_STACK})

    assert not found, "contracts must not boot the app:\n" + "\n".join(found)


@pytest.mark.parametrize("module", [*modules_under("streams.collector"), *modules_under("streams.alerting"),
                                    *modules_under("streams.ops")])
def test_the_collector_the_alerts_and_the_ops_tools_start_without_faust_or_the_worker(module):
    found = boots(GRAPH, module, ("streams.worker",), {STREAM_STACK})

    assert not found, "loads the worker or Faust:\n" + "\n".join(found)


def test_the_graph_sees_every_package_and_every_kind_of_import():
    assert {m.split(".")[0] for m in GRAPH.paths} == set(PACKAGES)
    assert "streams.faust_ext.fixes" in GRAPH.edges["streams.faust_ext"]  # imported inside install()
    assert "faust" in GRAPH.external["streams.worker.app"]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_cycle_closed_by_a_function_local_relative_import_is_found_and_named(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/app.py": "def start():\n    from . import agents\n",
        "pkg/agents.py": "from pkg.tables import table\n",
        "pkg/tables.py": "from .app import start\n",
        "pkg/leaf.py": "import pkg.tables\n",
    })
    graph = import_graph(tmp_path, ("pkg",))

    assert cycles(graph) == [["pkg.agents", "pkg.app", "pkg.tables"]]
    assert a_cycle_through(graph, ["pkg.agents", "pkg.app", "pkg.tables"]) == [
        "pkg.agents", "pkg.tables", "pkg.app", "pkg.agents"]


def test_a_dynamic_import_and_a_parent_package_count_for_what_a_module_loads(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/tools/__init__.py": "from pkg.tools import heavy\n",
        "pkg/tools/light.py": "x = 1\n",
        "pkg/tools/heavy.py": "import importlib\ndef f():\n    importlib.import_module('pkg.worker.app')\n",
        "pkg/worker/__init__.py": "",
        "pkg/worker/app.py": "import faust\n",
    })
    graph = import_graph(tmp_path, ("pkg",))

    assert boots(graph, "pkg.tools.light", ("pkg.worker",), {"faust"}) == [
        "pkg.tools.light -> pkg.tools -> pkg.tools.heavy -> pkg.worker.app",
        "pkg.tools.light -> pkg.tools -> pkg.tools.heavy -> pkg.worker.app -> pkg.worker",
        "pkg.tools.light -> pkg.tools -> pkg.tools.heavy -> pkg.worker.app -> faust",
    ]
