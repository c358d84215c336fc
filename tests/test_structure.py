"""The package's shape, read from the source with ``ast`` (docs/architecture.md): layers import
only downward, no import circle between modules, no module imports a CLI, DAG files import only
the orchestration layer. Every import counts, including those inside functions (lazy imports keep
start-up fast; they are dependencies all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

# Lowest first. A package (or top-level module) of components/ may import its own modules and any
# unit of a lower layer, never one of its own layer or above. Keep in step with
# docs/architecture.md.
LAYERS: list[tuple[str, list[str]]] = [
    ("ground", ["errors", "serving"]),
    ("parameter model", ["params_model"]),
    ("parameters", ["config"]),
    ("parameter schema", ["params_schema"]),
    ("data", ["data"]),
    ("shared", ["modeling", "domain", "profiles", "tracking", "execution", "remote"]),
    ("stage runner", ["stagerun"]),
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


MAX_CLI_LINES = 80


def stage_clis() -> list[Path]:
    """Every stage CLI (``cli.py``, ``*_cli.py``); the dispatcher components/cli.py is the entry
    point, not a stage CLI."""
    files = sorted((ROOT / "components").rglob("*.py"))
    return [f for f in files if is_cli(module_name(f)) and module_name(f) != "components.cli"]


def cli_problems(source: str, lines_max: int = MAX_CLI_LINES) -> list[str]:
    """What makes a CLI more than a parser: too many lines, or a ``run`` that does more than
    hand the parsed arguments to one function of its core (``return f(...)``, after imports)."""
    problems = []
    if len(source.splitlines()) >= lines_max:
        problems.append(f"{len(source.splitlines())} lines (limit {lines_max})")
    tree = ast.parse(source)
    runs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run"]
    if not runs:
        return [*problems, "no run(args)"]
    body = [n for n in runs[0].body if not isinstance(n, ast.Import | ast.ImportFrom)]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call | ast.Attribute):  # fmt: skip
        problems.append("run() does more than `return core_function(...)`")
    return problems


def test_every_cli_only_parses_and_calls_its_core():
    found = {str(f.relative_to(ROOT)): cli_problems(f.read_text(encoding="utf-8")) for f in stage_clis()}  # fmt: skip
    assert len(found) >= 14, found  # the walk sees the stage CLIs
    assert {f: p for f, p in found.items() if p} == {}


def test_the_cli_check_can_fail():
    thin = "def add_arguments(p):\n    pass\n\n\ndef run(args):\n    from x import go\n\n    return go(args)\n"  # fmt: skip
    assert cli_problems(thin) == []
    fat = thin.replace("    return go(args)", "    n = 1\n    return go(args, n)")
    assert cli_problems(fat) == ["run() does more than `return core_function(...)`"]
    assert cli_problems(thin + "\n" * 80) == ["88 lines (limit 80)"]


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph.get(m, ())
    return seen


def undeclared_code(graph: dict[str, set[str]], stages: dict, commands: dict) -> dict[str, list]:
    """Per DVC stage run by ``dapt <command>``: the packages of components/ its command imports
    (directly or not) that its deps do not list, so DVC would not re-run it when they change.
    Top-level modules (config.py, errors.py...) are not checked: every stage imports them."""
    missing = {}
    for name, stage in stages.items():
        words = str(stage["cmd"]).split()
        if words[:1] != ["dapt"]:
            continue
        deps = {str(d).rstrip("/") for d in stage.get("deps") or []}
        units = {unit_of(m) for m in closure(graph, commands[words[1]][0])} - {None}
        packages = {u for u in units if (ROOT / "components" / u).is_dir()}
        gaps = sorted(u for u in packages if f"components/{u}" not in deps)
        if gaps:
            missing[name] = gaps
    return missing


def test_dvc_stages_list_the_code_they_import(graph):
    from components.cli import COMMANDS

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert undeclared_code(graph, stages, COMMANDS) == {}
    # The check sees a gap: compare without the fine-tuning package it reads RunResult from.
    stages["compare"]["deps"].remove("components/finetune")
    assert undeclared_code(graph, stages, COMMANDS) == {"compare": ["finetune"]}


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


def test_bytecode_never_counts_in_a_code_dependency_hash():
    """A stage locks its code folders' hashes; a later stage importing a module writes a .pyc
    into them. DVC must not see it, or `dvc status` reports stages changed that did not."""
    from dvc.repo import Repo

    ignore = Repo(str(ROOT)).dvcignore
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    folders = {d for s in stages.values() for d in s.get("deps", []) if (ROOT / d).is_dir()}
    code = sorted(f for f in folders if f.startswith("components"))
    assert code, "no code folder among the stage deps"
    for folder in code:
        pyc = ROOT / folder / "__pycache__" / "core.cpython-311.pyc"
        assert ignore.is_ignored_file(str(pyc)), folder
        assert not ignore.is_ignored_file(str(ROOT / folder / "core.py")), folder
