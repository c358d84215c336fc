"""The run report's lineage picture: raw inputs -> stages -> registered model version.

``from_events`` builds it from the OpenLineage events under reports/lineage/ (the exact dataset
versions the registered model came from, when a version is registered); ``from_stages`` from
dvc.yaml's stage graph when there are no events. Both give a ``Graph`` whose ``layers`` place
every node one column right of its furthest-upstream parent; ``draw`` renders it with matplotlib
(no graphviz binary is assumed anywhere the report runs).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

INPUT, STAGE, MODEL = "input", "stage", "model"
# Code and configuration are deps too (components/ingest, profile.yaml); the picture shows data.
CODE_PREFIXES = ("components/",)
CODE_SUFFIXES = (".py", ".yaml", ".yml")
MODEL_PREFIX = "models:/"


@dataclass(frozen=True)
class Graph:
    nodes: dict[str, str]  # id -> INPUT | STAGE | MODEL, in first-seen order
    edges: tuple[tuple[str, str], ...]
    layers: tuple[tuple[str, ...], ...]
    source: str = ""  # what it was drawn from, said under the picture


def is_code(path: str) -> bool:
    return path.startswith(CODE_PREFIXES) or path.endswith(CODE_SUFFIXES)


def layered(nodes: dict[str, str], edges: list[tuple[str, str]], source: str = "") -> Graph:
    """Longest-path layering (a node sits right of all its parents); edges to unknown nodes and
    duplicates are dropped. Within a layer the first-seen order is kept, so output is stable."""
    edges = list(dict.fromkeys((a, b) for a, b in edges if a in nodes and b in nodes and a != b))
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        parents[b].append(a)
    depth: dict[str, int] = {}

    def level(n: str, path: frozenset[str] = frozenset()) -> int:
        if n not in depth:
            ups = [p for p in parents[n] if p not in path]  # a cycle never loops forever
            depth[n] = 1 + max((level(p, path | {n}) for p in ups), default=-1)
        return depth[n]

    for n in nodes:
        level(n)
    layers = [
        tuple(n for n in nodes if depth[n] == i) for i in range(max(depth.values(), default=-1) + 1)
    ]
    return Graph(dict(nodes), tuple(edges), tuple(layers), source)


def _upstream_of(targets: list[str], edges: list[tuple[str, str]]) -> set[str]:
    keep, todo = set(targets), list(targets)
    while todo:
        n = todo.pop()
        for a, b in edges:
            if b == n and a not in keep:
                keep.add(a)
                todo.append(a)
    return keep


def _restrict(nodes: dict[str, str], edges: list[tuple[str, str]], source: str) -> Graph:
    """Only what leads to a model version, when one is in the graph (the report stage and other
    side branches are not the model's lineage)."""
    models = [n for n, k in nodes.items() if k == MODEL]
    if models:
        keep = _upstream_of(models, edges)
        nodes = {n: k for n, k in nodes.items() if n in keep}
    return layered(nodes, edges, source)


def from_events(evs: list[dict[str, Any]]) -> Graph | None:
    """The graph of the latest registered version's exact input versions, else of each job's
    latest COMPLETE run; None without COMPLETE events."""
    from components.lineage import events

    done = events.completed(evs)
    if not done:
        return None
    models = [
        ds["name"]
        for e in done
        for ds in e.get("outputs") or []
        if ds["name"].startswith(MODEL_PREFIX)
    ]
    if models:
        name, _, version = models[-1][len(MODEL_PREFIX) :].rpartition("/")
        tree = events.model_tree(evs, name, version)
        if tree is not None:
            return _from_tree(tree, models[-1])
    latest = {e["job"]["name"]: e for e in done}  # later events replace earlier ones
    made = {ds["name"]: job for job, e in latest.items() for ds in e.get("outputs") or []}
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for job, e in latest.items():
        nodes.setdefault(job, STAGE)
        for ds in e.get("inputs") or []:
            up = made.get(ds["name"])
            if up is None and not is_code(ds["name"]):
                nodes.setdefault(ds["name"], INPUT)
                up = ds["name"]
            if up is not None:
                edges.append((up, job))
    return _restrict(
        nodes, edges, "OpenLineage events in reports/lineage (latest run of each stage)"
    )


def _from_tree(tree: dict[str, Any], model: str) -> Graph:
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    seen: set[tuple[int, str]] = set()

    def walk(node: dict[str, Any], consumer: str) -> None:
        if (id(node), consumer) in seen:
            return
        seen.add((id(node), consumer))
        stage = node.get("stage")
        if stage is None:
            if is_code(node["path"]):
                return
            nodes.setdefault(node["path"], INPUT)
            edges.append((node["path"], consumer))
            return
        nodes.setdefault(stage, STAGE)
        edges.append((stage, consumer))
        for child in node.get("inputs") or []:
            walk(child, stage)

    nodes[tree["stage"]] = STAGE
    for child in tree.get("inputs") or []:
        walk(child, tree["stage"])
    nodes[model] = MODEL
    edges.append((tree["stage"], model))
    return _restrict(
        nodes, edges, f"OpenLineage events in reports/lineage (the versions {model} came from)"
    )


def _within(dep: str, out: str) -> bool:
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def from_stages(graph: Any, model: str | None = None) -> Graph:
    """dvc.yaml's stage graph (a ``components.orchestration.graph.StageGraph``): deps no stage
    writes are the raw inputs; ``model`` (``models:/name/version``) hangs off ``register``."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    outs = [o for st in graph.stages.values() for o in st.outs]
    for name in graph.order:
        nodes[name] = STAGE
        edges.extend((up, name) for up in graph.upstream[name])
        for dep in graph.stages[name].deps:
            if is_code(dep) or "${" in dep or any(_within(dep, o) for o in outs):
                continue
            nodes.setdefault(dep, INPUT)
            edges.append((dep, name))
    if model and "register" in nodes:
        nodes[model] = MODEL
        edges.append(("register", model))
    nodes = {n: nodes[n] for n in sorted(nodes, key=lambda n: nodes[n] != INPUT)}  # inputs first
    return _restrict(nodes, edges, "dvc.yaml stage graph (no OpenLineage events yet)")


COLOURS = {INPUT: "#dbeafe", STAGE: "#f3f3f3", MODEL: "#dcfce7"}


def draw(g: Graph) -> bytes:
    """The graph as a PNG, layers top to bottom (a pipeline is a long chain: left to right it
    would be a strip too thin to read in the report's page width)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = max((len(layer) for layer in g.layers), default=1)
    fig, ax = plt.subplots(figsize=(max(5.0, 2.3 * wide), max(2.0, 0.62 * len(g.layers) + 0.4)))
    at: dict[str, tuple[float, float]] = {}
    for y, layer in enumerate(g.layers):
        for i, n in enumerate(layer):
            at[n] = (i - (len(layer) - 1) / 2, -float(y))  # each row centred
    for a, b in g.edges:
        skips = at[a][1] - at[b][1] > 1  # bend edges that jump rows, so they pass beside boxes
        ax.annotate(
            "", xy=at[b], xytext=at[a],
            arrowprops={"arrowstyle": "->", "color": "#888", "shrinkA": 9, "shrinkB": 9,
                        "connectionstyle": f"arc3,rad={0.25 if skips else 0}"},
        )  # fmt: skip
    for n, (x, y) in at.items():
        label = n if len(n) <= 34 else "…" + n[-33:]
        box = {"boxstyle": "round,pad=0.3", "fc": COLOURS[g.nodes[n]], "ec": "#666"}
        ax.text(x, y, label, ha="center", va="center", fontsize=8, bbox=box)
    ax.set_xlim(-wide / 2 - 0.2, wide / 2 + 0.2)
    ax.set_ylim(-len(g.layers) + 0.5, 0.5)
    ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
