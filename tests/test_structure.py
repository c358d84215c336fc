"""The package's shape, read from the source with ``ast`` (docs/architecture.md): layers import
only downward, no import circle between modules, no module imports a CLI, DAG files import only
the orchestration layer. Every import counts, including those inside functions (lazy imports keep
start-up fast; they are dependencies all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Lowest first. A package (or top-level module) of components/ may import its own modules and any
# unit of a lower layer, never one of its own layer or above. Keep in step with
# docs/architecture.md.
LAYERS: list[tuple[str, list[str]]] = [
    ("ground", ["errors", "serving"]),
    ("parameters", ["config"]),
    ("data", ["data"]),
    ("shared", ["modeling", "domain", "profiles", "tracking", "execution"]),
    (
        "data stages and orchestration",
        [
            "ingest",
            "validate",
            "decontaminate",
            "mine",
            "newwords",
            "tokenizer",
            "orchestration",
            "params_cli",
            "push_cli",
        ],
    ),
    ("lineage", ["lineage"]),
    ("run report", ["report"]),
    ("pretraining", ["pretrain"]),
    ("fine-tuning", ["finetune"]),
    ("evaluation", ["evaluate"]),
    ("comparison", ["compare"]),
    ("registration", ["register"]),
    ("distillation", ["distill"]),
    ("entry point", ["cli"]),
]
RANK = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "components" and len(parts) > 1 else None


def imports(path: Path) -> set[str]:
    """Absolute names this file imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``: c may
    be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def source_graph(folder: str) -> dict[str, set[str]]:
    files = sorted((ROOT / folder).rglob("*.py"))
    modules = {module_name(f): f for f in files}
    return {m: {n for n in imports(f) if n in modules and n != m} for m, f in modules.items()}


def is_cli(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "cli" or last.endswith("_cli")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return source_graph("components")


def test_every_unit_has_a_layer(graph):
    units = {unit_of(m) for m in graph} - {None}
    assert units - RANK.keys() == set(), "add the new package to LAYERS and docs/architecture.md"


def test_layers_import_only_downward(graph):
    upward = [
        f"{m} -> {n} ({unit_of(m)} may not import {unit_of(n)})"
        for m, targets in graph.items()
        for n in targets
        if unit_of(m) and unit_of(n) != unit_of(m) and RANK[unit_of(n)] >= RANK[unit_of(m)]
    ]
    assert upward == []


def test_no_import_circles(graph):
    assert cycles(graph) == []


def test_no_module_imports_a_cli(graph):
    # The dispatcher (components/cli.py) loads stage CLIs by name (importlib): not an import.
    offenders = [f"{m} -> {n}" for m, targets in graph.items() for n in targets if is_cli(n)]
    assert offenders == []
    # Benchmarks may call the entry point in-process (they time whole commands); DAGs may not.
    for folder in ("dags",):
        for f in sorted((ROOT / folder).rglob("*.py")):
            assert not [n for n in imports(f) if n.startswith("components.") and is_cli(n)], f


def test_dag_files_hold_wiring_only():
    for f in sorted((ROOT / "dags").glob("*.py")):
        ours = {n for n in imports(f) if n.startswith("components")}
        assert all(n.startswith("components.orchestration") for n in ours), (f, ours)


def test_the_checks_can_fail():
    """The graph helpers see a planted circle, an upward import and a CLI import."""
    planted = {"components.a.x": {"components.a.y"}, "components.a.y": {"components.a.x"}}
    assert cycles(planted) == [["components.a.x", "components.a.y"]]
    assert is_cli("components.pretrain.cli") and is_cli("components.params_cli")
    assert not is_cli("components.client")
    assert RANK["register"] > RANK["finetune"] > RANK["pretrain"] > RANK["modeling"]
