"""``dapt lineage``: walk from a registered model back to every input, or from data to models.

dapt lineage models:/NAME@champion                   the input chain as a tree
dapt lineage --data data/ingested [--hash MD5]        versions that used this data version
dapt lineage --history NAME                          every gate decision with its reason
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from components.errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_uri", nargs="?", help="models:/NAME@ALIAS or models:/NAME/VERSION")
    p.add_argument("--data", help="a data path (DVC output, raw input or file)")
    p.add_argument("--hash", help="with --data: this version's hash instead of the current one")
    p.add_argument("--history", metavar="NAME", help="every version's gate decision and reason")
    p.add_argument("--json", action="store_true", help="print the lineage tree as JSON")


def resolve(client, uri: str):
    m = re.fullmatch(r"models:/([^/@]+)(?:@([\w-]+)|/(\d+))", uri or "")
    if not m:
        raise UsageError(f"{uri!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    name, alias, version = m.groups()
    if alias:
        return client.get_model_version_by_alias(name, alias)
    return client.get_model_version(name, version)


def show(client, uri: str, as_json: bool) -> str:
    import mlflow

    from components.evaluate.lineage import render

    mv = resolve(client, uri)
    tags = mv.tags or {}
    path = mlflow.artifacts.download_artifacts(
        run_id=mv.run_id, artifact_path="lineage/lineage.json"
    )
    tree = json.loads(Path(path).read_text(encoding="utf-8"))
    if as_json:
        return json.dumps({"version": mv.version, "tags": tags, "lineage": tree}, indent=2)
    aliases = ",".join(getattr(mv, "aliases", []) or []) or "-"
    info = [
        f"run {mv.run_id}  aliases {aliases}  decision {tags.get('gate.decision', '?')}",
        f"candidate {tags.get('candidate')}/{tags.get('strategy')} seed {tags.get('seed')}; "
        f"mean macro-F1 {tags.get('gate.mean_macro_f1')} over seeds {tags.get('gate.seed_macro_f1')}",
        f"git commit {tags.get('git_commit')} (dirty: {tags.get('git_dirty')})",
        f"base model {tags.get('base_model')}; backbone {tags.get('backbone')}",
        f"validation report {tags.get('validation_report')} "
        f"(summary md5 {tags.get('validation_summary_md5') or '-'})",
        f"reason: {tags.get('gate.reason', '')}",
        f"stage {tags.get('lineage.stage')} inputs (hashes from dvc.lock):",
    ]
    return render(tree, f"{mv.name} v{mv.version}", info)


def by_data(client, path: str, digest: str | None) -> str:
    from components.evaluate.lineage import current_hash
    from components.tracking import project_root

    key = f"dvc:{Path(path).as_posix().rstrip('/')}"
    digest = digest or current_hash(project_root(), path)
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


def run(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from components.tracking import configure

    configure()
    client = MlflowClient()
    if args.history:
        from components.evaluate.registry import history

        for row in history(args.history):
            print(f"v{row['version']} [{row['aliases'] or '-'}] {row['candidate']}/{row['strategy']}: {row['reason']}")  # fmt: skip
        return 0
    if args.data:
        print(by_data(client, args.data, args.hash))
        return 0
    if not args.model_uri:
        raise UsageError("give MODEL_URI, --data PATH or --history NAME")
    print(show(client, args.model_uri, args.json))
    return 0
