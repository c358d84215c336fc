"""Lineage from dvc.yaml + dvc.lock: every ancestor output of a stage with the hash DVC recorded.

A node is ``{"path", "md5", "stage", "inputs": [...]}``: ``stage`` produced ``path`` (absent for
raw inputs and code), and ``inputs`` are that stage's locked dependencies, recursively. The tree
is stored with each registered model version (artifact ``lineage/lineage.json``) and flattened
into ``dvc:<path>`` tags so versions can be searched by data version.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from components.data.text import file_digest

Node = dict[str, Any]


def _load(path: Path) -> dict:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _hash(entry: dict) -> str:
    return str(entry.get("md5") or entry.get("hash") or entry.get("checksum") or "")


def _norm(p: str) -> str:
    return os.path.normpath(p)


class Lock:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.stages: dict[str, dict] = _load(root / "dvc.lock").get("stages", {})
        self.producer: dict[str, tuple[str, str]] = {}
        for name, st in self.stages.items():
            for out in st.get("outs", []) or []:
                self.producer[_norm(out["path"])] = (name, _hash(out))

    def produced_by(self, path: str) -> tuple[str, str, str] | None:
        """(stage, output path, output hash) of the output holding ``path`` (itself or a parent)."""
        p = _norm(path)
        for out, (stage, md5) in self.producer.items():
            if p == out or p.startswith(out + os.sep):
                return stage, out, md5
        return None

    def node(self, path: str, md5: str = "", seen: dict[str, Node] | None = None) -> Node:
        seen = {} if seen is None else seen
        found = self.produced_by(path)
        if found is None:
            return {"path": _norm(path), "md5": md5}
        stage, out, out_md5 = found
        if out not in seen:
            deps = self.stages[stage].get("deps", []) or []
            seen[out] = {
                "path": out,
                "md5": out_md5,
                "stage": stage,
                "inputs": [self.node(d["path"], _hash(d), seen) for d in deps],
            }
        node = seen[out]
        if _norm(path) != out:  # a file inside a DVC-tracked folder: its own digest too
            f = self.root / path
            return {
                "path": _norm(path),
                "md5": file_digest(str(f)) if f.is_file() else "",
                "inside": out,
                "inputs": [node],
            }
        return node


def stage_lineage(root: Path, stage: str, extra_inputs: list[str] = ()) -> Node:
    """The lineage tree of ``stage`` as declared in dvc.yaml, hashes from dvc.lock."""
    dvc_yaml = _load(root / "dvc.yaml").get("stages", {})
    deps = list((dvc_yaml.get(stage) or {}).get("deps", []) or [])
    deps += [p for p in extra_inputs if p not in deps]
    lock = Lock(root)
    seen: dict[str, Node] = {}
    # Outputs of earlier stages carry their dvc.lock hash; only raw inputs need hashing now.
    raw = {_norm(d) for d in deps if lock.produced_by(d) is None}
    now = _dvc_hashes(root, stage, raw) if raw else {}
    return {"stage": stage, "inputs": [lock.node(d, now.get(_norm(d), ""), seen) for d in deps]}


def _dvc_hashes(root: Path, stage: str, paths: set[str]) -> dict[str, str]:
    """The hashes DVC will record for ``paths`` among ``stage``'s dependencies, computed now: the
    stage that registers a model runs before DVC writes its own dvc.lock entry, so its direct raw
    inputs (code, raw data, the shipped base model) would otherwise have no hash."""
    try:
        from dvc.dependency.param import ParamsDependency
        from dvc.repo import Repo

        with Repo(str(root)) as repo:
            (st,) = repo.stage.collect(stage)
            return {
                _norm(d.def_path): str(d.get_hash().value)
                for d in st.deps
                if not isinstance(d, ParamsDependency)
                and _norm(d.def_path) in paths
                and (root / d.def_path).exists()
            }
    except Exception as exc:  # no DVC project (ad-hoc use): fall back to dvc.lock only
        print(f"[lineage] DVC hashes of {stage!r} unavailable: {exc}")
        return {}


def flatten(tree: Node) -> dict[str, str]:
    """``path -> md5`` for every node with a hash (the ``dvc:<path>`` tags)."""
    flat: dict[str, str] = {}

    def walk(node: Node) -> None:
        if node.get("path") and node.get("md5"):
            flat[node["path"]] = node["md5"]
        for child in node.get("inputs", []):
            walk(child)

    walk(tree)
    return flat


def current_hash(root: Path, path: str) -> str:
    """The hash a data path has now: DVC's recorded output hash, else the file's MD5."""
    lock = Lock(root)
    found = lock.produced_by(path)
    if found and found[1] == _norm(path):
        return found[2]
    f = root / path
    if f.is_file():
        return file_digest(str(f))
    # a raw input folder recorded as a dependency somewhere
    for st in lock.stages.values():
        for dep in st.get("deps", []) or []:
            if _norm(dep["path"]) == _norm(path):
                return _hash(dep)
    return ""


def render(tree: Node, title: str, info: list[str] = ()) -> str:
    """A text tree: the model, then each input with the stage that produced it."""
    lines = [title, *(f"│ {x}" for x in info)]

    def label(n: Node) -> str:
        s = f"{n.get('path', n.get('stage'))}  md5={n.get('md5') or '-'}"
        if n.get("stage") and n.get("path"):
            s += f"  <- stage {n['stage']}"
        if n.get("inside"):
            s += f"  (in {n['inside']})"
        return s

    def walk(n: Node, prefix: str, shown: set[str]) -> None:
        kids = n.get("inputs", [])
        for i, child in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(prefix + ("└── " if last else "├── ") + label(child))
            key = child.get("path", "")
            if key in shown and child.get("inputs"):
                lines.append(prefix + ("    " if last else "│   ") + "└── (see above)")
                continue
            shown.add(key)
            walk(child, prefix + ("    " if last else "│   "), shown)

    walk(tree, "", set())
    return "\n".join(lines)
