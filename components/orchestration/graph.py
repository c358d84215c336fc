"""The stage graph read from dvc.yaml: stages, edges (an out of A is a dep of B), topological order.

Airflow, Kubernetes and Kubeflow are generated from this, so adding a stage to dvc.yaml is the
only edit needed for it to appear everywhere. Parsing is a ``yaml.safe_load`` (milliseconds).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.errors import ConfigError

_INTERPOLATION = re.compile(r"\$\{[^}]*\}.*$")


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]  # outs, metrics and plots: everything the stage writes
    group: bool = False  # a foreach/matrix group, run as one unit (`dvc repro <name>`)
    frozen: bool = False  # `frozen: true`: run on demand only, never by the orchestrators


@dataclass(frozen=True)
class StageGraph:
    stages: dict[str, Stage]  # in dvc.yaml order
    upstream: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def order(self) -> list[str]:
        """Topological order; ties keep the dvc.yaml order so the result is stable."""
        done: list[str] = []
        pending = list(self.stages)
        while pending:
            ready = next((s for s in pending if all(u in done for u in self.upstream[s])), None)
            if ready is None:
                raise ConfigError(f"dvc.yaml: stages form a cycle among {', '.join(pending)}")
            done.append(ready)
            pending.remove(ready)
        return done

    def active(self) -> StageGraph:
        """The graph without frozen stages: their outputs are inputs, not work to schedule."""
        keep = {n: st for n, st in self.stages.items() if not st.frozen}
        return StageGraph(keep, {n: tuple(u for u in self.upstream[n] if u in keep) for n in keep})

    def downstream(self, name: str) -> list[str]:
        return [s for s in self.stages if name in self.upstream[s]]

    def edges(self) -> list[tuple[str, str]]:
        return [(u, s) for s in self.order for u in self.upstream[s]]


_VAR = re.compile(r"\$\{\s*([\w.-]+)\s*\}")


def _lookup(variables: dict[str, Any], key: str) -> Any:
    node: Any = variables
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str | int | float) and not isinstance(node, bool) else None


def resolve(text: str, variables: dict[str, Any]) -> str:
    """``${domain.inputs}`` -> its params.yaml value, as DVC interpolates it (params.yaml is
    DVC's default variable file); unknown names (``${item.path}``) are left for ``_norm``."""

    def sub(m: re.Match) -> str:
        value = _lookup(variables, m.group(1))
        return m.group(0) if value is None else str(value)

    return _VAR.sub(sub, text)


def _norm(path: str, wdir: str) -> str:
    # Interpolated parts (${item.path}) are unknown before DVC resolves them: keep the prefix,
    # which is enough to find the producing stage when it writes the parent folder.
    path = _INTERPOLATION.sub("", str(path)).rstrip("/")
    return posixpath.normpath(posixpath.join(wdir, path)) if path else posixpath.normpath(wdir)


def _paths(entries: Any, wdir: str, variables: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for entry in entries or []:
        if isinstance(entry, dict):
            out.extend(_norm(resolve(k, variables), wdir) for k in entry)
        else:
            out.append(_norm(resolve(entry, variables), wdir))
    return out


def _overlaps(dep: str, out: str) -> bool:
    if dep in (".", out):
        return True
    return dep.startswith(out + "/") or out.startswith(dep + "/")


def parse(
    data: dict[str, Any], source: str = "dvc.yaml", variables: dict[str, Any] | None = None
) -> StageGraph:
    variables = variables or {}
    raw = (data or {}).get("stages") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: 'stages' must be a mapping")
    stages: dict[str, Stage] = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: stage {name!r} must be a mapping")
        group = "foreach" in spec or "matrix" in spec
        body = spec.get("do", spec) if "foreach" in spec else spec
        wdir = str(body.get("wdir", "."))
        cmd = body.get("cmd", "")
        stages[name] = Stage(
            name=name,
            cmd=resolve(" && ".join(cmd) if isinstance(cmd, list) else str(cmd), variables),
            deps=tuple(_paths(body.get("deps"), wdir, variables)),
            outs=tuple(
                _paths(body.get("outs"), wdir, variables)
                + _paths(body.get("metrics"), wdir, variables)
                + _paths(body.get("plots"), wdir, variables)
            ),
            group=group,
            frozen=bool(body.get("frozen", spec.get("frozen", False))),
        )
    upstream = {
        name: tuple(
            other
            for other, producer in stages.items()
            if other != name and any(_overlaps(d, o) for d in st.deps for o in producer.outs)
        )
        for name, st in stages.items()
    }
    graph = StageGraph(stages, upstream)
    graph.order  # noqa: B018 - fail at load time on a cycle, not mid-run
    return graph


def load(path: str | Path = "dvc.yaml") -> StageGraph:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: stage graph not found (run from the project root)")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    params = path.parent / "params.yaml"
    variables = yaml.safe_load(params.read_text(encoding="utf-8")) if params.exists() else {}
    return parse(data, str(path), variables or {})
