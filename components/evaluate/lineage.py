"""Lineage from dvc.yaml + dvc.lock: every ancestor output of a stage with the hash DVC recorded.

A node is ``{"path", "md5", "stage", "inputs": [...]}``: ``stage`` produced ``path`` (absent for
raw inputs and code), and ``inputs`` are that stage's locked dependencies, recursively. A raw
input folder that holds DVC-versioned folders of its own (corpus_handoff's deliveries under
``domain.inputs``) lists them as inputs with the hash of their .dvc file. The tree
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

    def dep_hash(self, stage: str | None, path: str) -> str:
        """The hash ``stage``'s dvc.lock entry records for its dependency ``path``."""
        for dep in (self.stages.get(stage or "") or {}).get("deps", []) or []:
            if _norm(dep["path"]) == _norm(path):
                return _hash(dep)
        return ""

    def tracked_inside(self, path: str) -> list[Node]:
        """Folders inside a raw input that DVC versions on their own (``<folder>.dvc``, e.g.
        corpus_handoff's deliveries), with the hash their .dvc file records."""
        top = self.root / path
        if not top.is_dir():
            return []
        nodes = []
        for dvc_file in sorted(top.rglob("*.dvc")):
            if dvc_file.is_symlink() or not dvc_file.is_file():
                continue
            data = _load(dvc_file)
            for out in data.get("outs", []) or []:
                rel = (dvc_file.parent / out["path"]).relative_to(self.root)
                dvc_rel = dvc_file.relative_to(self.root).as_posix()
                nodes.append({"path": _norm(str(rel)), "md5": _hash(out), "dvc_file": dvc_rel})
        return nodes

    def node(
        self,
        path: str,
        md5: str = "",
        seen: dict[str, Node] | None = None,
        consumer: str | None = None,
    ) -> Node:
        seen = {} if seen is None else seen
        found = self.produced_by(path)
        if found is None:
            node: Node = {"path": _norm(path), "md5": md5}
            tracked = self.tracked_inside(path)
            if tracked:
                node["inputs"] = tracked
                node["consumer"] = consumer or ""
            return node
        stage, out, out_md5 = found
        if out not in seen:
            deps = self.stages[stage].get("deps", []) or []
            seen[out] = {
                "path": out,
                "md5": out_md5,
                "stage": stage,
                "inputs": [self.node(d["path"], _hash(d), seen, stage) for d in deps],
            }
        node = seen[out]
        if _norm(path) != out:  # a file inside a DVC-tracked folder: its own digest too
            f = self.root / path
            return {
                "path": _norm(path),
                # a folder (a shard folder, execution.shards): the hash the consumer's dvc.lock
                # entry records for it (DVC's .dir hash)
                "md5": file_digest(str(f)) if f.is_file() else md5 or self.dep_hash(consumer, path),
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
    tree = {
        "stage": stage,
        "inputs": [lock.node(d, now.get(_norm(d), ""), seen, stage) for d in deps],
    }
    _check_tracked(root, tree)
    return tree


def _check_tracked(root: Path, tree: Node) -> None:
    """A DVC-versioned folder inside a raw input (``tracked_inside``) is named with the hash of
    its .dvc file *now*; that is the version the consuming stage read only if the raw input
    still has the hash the stage recorded. Otherwise (a delivery arrived after the stage ran)
    its hash is withheld rather than attributed to this model."""
    pending: dict[str, list[Node]] = {}

    def walk(node: Node) -> None:
        if node.get("consumer") is not None and node.get("inputs"):
            pending.setdefault(node["consumer"], []).append(node)
        for child in node.get("inputs", []):
            walk(child)

    walk(tree)
    for stage, nodes in pending.items():
        current = _dvc_hashes(root, stage, {n["path"] for n in nodes})
        for n in nodes:
            if not n["md5"] or current.get(n["path"]) != n["md5"]:
                for child in n["inputs"]:
                    child["md5"] = ""
                    child["note"] = f"changed since stage {stage} ran: not this version's input"


def _dvc_hashes(root: Path, stage: str, paths: set[str]) -> dict[str, str]:
    """The hashes DVC will record for ``paths`` among ``stage``'s dependencies, computed now: the
    stage that registers a model runs before DVC writes its own dvc.lock entry, so its direct raw
    inputs (code, raw data, the shipped base model) would otherwise have no hash."""
    try:
        from dvc.dependency.param import ParamsDependency
        from dvc.repo import Repo

        with Repo(str(root)) as repo:
            (st,) = repo.stage.collect(f"{root / 'dvc.yaml'}:{stage}")  # any cwd
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
        if n.get("dvc_file"):
            s += f"  (versioned by {n['dvc_file']})"
        if n.get("note"):
            s += f"  ({n['note']})"
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
