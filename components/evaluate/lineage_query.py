"""What ``dapt lineage`` prints (components/evaluate/lineage_cli.py parses): a registered
model's input chain, the model versions that used a data version, every gate decision."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from components.errors import InputError, UsageError


def versions_summary(client, name: str) -> str:
    """``v1 [champion], v2 [challenger], v3 [-]``: what exists to choose from."""
    rows = history(client, name)
    return ", ".join(f"v{r['version']} [{r['aliases'] or '-'}]" for r in rows)


def history(client, name: str) -> list[dict[str, str]]:
    from components.evaluate.registry import history as rows

    return rows(name, client)


def resolve(client, uri: str):
    from mlflow.exceptions import MlflowException

    m = re.fullmatch(r"models:/([^/@]+)(?:@([\w-]+)|/(\d+))", uri or "")
    if not m:
        raise UsageError(f"{uri!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    name, alias, version = m.groups()
    try:
        if alias:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, version)
    except MlflowException:
        pass
    existing = versions_summary(client, name)
    what = f"alias {alias!r}" if alias else f"version {version}"
    if not existing:
        raise unknown_model(client, uri, name)
    raise InputError(
        uri,
        f"{name} has no {what}",
        f"existing versions: {existing}; name one as models:/{name}/VERSION or models:/{name}@ALIAS"
        + ("" if alias != "champion" else " (no version has passed the gate yet)"),
    ) from None


def unknown_model(client, where: str, name: str) -> InputError:
    names = sorted(rm.name for rm in client.search_registered_models())
    fix = (
        f"registered models: {', '.join(names)}"
        if names
        else "nothing is registered yet: the register stage registers one (make run)"
    )
    return InputError(where, f"no registered model named {name!r}", fix)


def show(client, uri: str, as_json: bool, root: Path | None = None) -> str:
    import mlflow

    from components.evaluate.lineage import render
    from components.lineage.events import model_tree, read

    mv = resolve(client, uri)
    tags = mv.tags or {}
    # The OpenLineage events of the runs that made this version, when this project emitted them
    # (docs/lineage.md); else the tree recorded from dvc.lock at registration.
    tree = model_tree(read(root), mv.name, str(mv.version)) if root else None
    if tree is not None and not _complete(tree, root):
        tree = None  # some stage ran without emitting (before lineage existed, or by hand)
    source = "OpenLineage events in reports/lineage" if tree else "dvc.lock"
    if tree is None:
        tree = _recorded_tree(mlflow, mv, uri)
    if as_json:
        return json.dumps(
            {"version": mv.version, "tags": tags, "lineage": tree, "source": source}, indent=2
        )
    aliases = ",".join(_aliases(client, mv)) or "-"
    info = _info(tags, mv, aliases, source)
    return render(tree, f"{mv.name} v{mv.version}", info)


def _complete(tree: dict, root: Path) -> bool:
    """Every dataset that a dvc.yaml stage writes has the event of the run that wrote it."""
    from components.evaluate.lineage import Lock

    lock = Lock(root)

    def ok(node: dict) -> bool:
        found = lock.produced_by(node.get("path", ""))
        if found and found[1] == node.get("path") and "stage" not in node:
            return False
        return all(ok(child) for child in node.get("inputs", []))

    return ok(tree)


def _recorded_tree(mlflow, mv, uri: str) -> dict:
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=mv.run_id, artifact_path="lineage/lineage.json"
        )
        tree = json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception as exc:  # registered by hand or the artifact store is unreachable
        tree = {"stage": "?", "inputs": []}
        print(f"[lineage] {uri}: no lineage/lineage.json artifact ({exc})".splitlines()[0])
    return tree


def _info(tags: dict, mv, aliases: str, source: str) -> list[str]:
    return [
        f"run {mv.run_id}  aliases {aliases}  decision {tags.get('gate.decision', '?')}",
        f"candidate {tags.get('candidate')}/{tags.get('strategy')} seed {tags.get('seed')}; "
        f"mean macro-F1 {tags.get('gate.mean_macro_f1')} over seeds {tags.get('gate.seed_macro_f1')}",
        f"git commit {tags.get('git_commit')} (dirty: {tags.get('git_dirty')})",
        f"base model {tags.get('base_model')}; backbone {tags.get('backbone')}",
        f"validation report {tags.get('validation_report')} "
        f"(summary md5 {tags.get('validation_summary_md5') or '-'})",
        f"reason: {tags.get('gate.reason', '')}",
        f"stage {tags.get('lineage.stage')} inputs (hashes from {source}):",
    ]


def _aliases(client, mv) -> list[str]:
    if getattr(mv, "aliases", None):
        return list(mv.aliases)
    rm = client.get_registered_model(mv.name)
    return sorted(a for a, v in (rm.aliases or {}).items() if str(v) == str(mv.version))


def by_data(client, path: str, digest: str | None, root: Path) -> str:
    from components.evaluate.lineage import current_hash

    key = f"dvc:{Path(path).as_posix().rstrip('/')}"
    digest = digest or current_hash(root, path)
    lines = [f"{path} @ {digest or '(no hash known)'}"]
    used = []
    for mv in client.search_model_versions(""):
        tags = mv.tags or {}
        if key in tags:
            used.append((mv, tags[key]))
    used.sort(key=lambda x: (x[0].name, int(x[0].version)))
    match = [mv for mv, h in used if h == digest]
    for mv in match:
        lines.append(
            f"  {mv.name} v{mv.version}  {(mv.tags or {}).get('gate.decision', '')}  run {mv.run_id}"
        )
    if not match:
        lines.append("  no registered version used this data version")
    others = [(mv, h) for mv, h in used if h != digest]
    if others:
        lines.append("other versions of this path:")
        lines += [f"  {mv.name} v{mv.version} used {h}" for mv, h in others]
    return "\n".join(lines)


def connect(project: str | None) -> Path:
    """Point MLflow at the project's store (read-only: no experiment is created); returns the
    project root."""
    import mlflow

    from components.config import load_section
    from components.tracking import project_root, resolve_tracking_uri

    root = Path(project).resolve() if project else project_root()
    if not (root / "params.yaml").exists():
        if project or not os.environ.get("MLFLOW_TRACKING_URI"):
            raise UsageError(
                f"{root}: no params.yaml here or above; run from the project or pass "
                "--project DIR (or set MLFLOW_TRACKING_URI to a tracking server)"
            )
        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
        return root
    mlflow.set_tracking_uri(
        resolve_tracking_uri(load_section("tracking", root / "params.yaml"), root)
    )
    return root


def query(args: argparse.Namespace) -> int:
    """The chain, the data's versions or the gate history, printed (``dapt lineage``)."""
    from mlflow import MlflowClient

    root = connect(args.project)
    client = MlflowClient()
    if args.history:
        rows = history(client, args.history)
        if not rows:
            raise unknown_model(client, "--history", args.history)
        for row in rows:
            print(f"v{row['version']} [{row['aliases'] or '-'}] {row['decision'] or '?'} {row['candidate']}/{row['strategy']}: {row['reason']}")  # fmt: skip
        return 0
    if args.data:
        print(by_data(client, args.data, args.hash, root))
        return 0
    if not args.model_uri:
        raise UsageError("give MODEL_URI, --data PATH or --history NAME")
    print(show(client, args.model_uri, args.json, root))
    return 0
