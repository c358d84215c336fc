"""Run one stage inside a container (Kubernetes pod or Kubeflow step), sharing data via DVC.

``python -m components.orchestration.podrun --stage S [--locks JSON ...] [--xcom PATH]``

1. optional input from the Airflow side (``DAPT_POD_INPUT``): dvc.yaml, params.yaml and the
   parents' dvc.lock entries of the workspace, so the pod runs exactly what the workspace would;
2. ``--locks``: parents' dvc.lock entries from upstream Kubeflow steps;
3. pull the parents' outputs, ``dvc repro --single-item S``, push S's outputs;
4. write ``{S: <dvc.lock entry>}`` to ``--xcom`` / ``--out`` for whoever runs next, or print it
   (``--print-lock``: a TrainJob has no XCom sidecar; trainjob_run.lock_entry reads it back).

In a multi-node TrainJob every node runs this; nodes other than 0 (``PET_NODE_RANK``) pull the
inputs and run the stage's command directly (it joins node 0's torchrun rendezvous), leaving DVC
bookkeeping, outputs and the push to node 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from components.orchestration import runner
from components.orchestration.pods import POD_INPUT_ENV
from components.orchestration.trainjob import SECRET_ENV_DIR
from components.orchestration.trainjob_run import LOCK_MARKER


def load_secret_env(folder: str | None) -> list[str]:
    """Export each file of a mounted Secret as an environment variable (like ``envFrom``);
    variables already set win. Returns the names exported (never the values)."""
    if not folder or not Path(folder).is_dir():
        return []
    names = []
    for f in sorted(Path(folder).iterdir()):
        # Secret volumes also hold ``..data`` and timestamped folders: only KEY files count.
        if f.name.startswith(".") or not f.is_file() or not f.name.isidentifier():
            continue
        if f.name not in os.environ:
            os.environ[f.name] = f.read_text(encoding="utf-8")
            names.append(f.name)
    return names


def _configure_remote(root: Path) -> None:
    url = os.environ.get("DAPT_DVC_REMOTE")
    if url:
        subprocess.run(
            ["dvc", "remote", "add", "--local", "--default", "--force", "pod", url],
            cwd=root,
            check=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="podrun", description=__doc__.splitlines()[0])
    p.add_argument("--stage", required=True)
    p.add_argument("--locks", action="append", default=[], help="JSON {stage: lock entry}")
    p.add_argument("--xcom", help="write the stage's lock entry here (Airflow XCom file)")
    p.add_argument("--out", help="write the stage's lock entry here (Kubeflow output)")
    p.add_argument("--print-lock", action="store_true", help="print the lock entry (TrainJob)")
    p.add_argument("--root", default=".")
    args = p.parse_args(argv)
    root = Path(args.root).resolve()

    payload = json.loads(os.environ.get(POD_INPUT_ENV) or "{}")
    for name in ("dvc.yaml", "params.yaml", "profile.yaml"):
        if payload.get(name):
            (root / name).write_text(payload[name], encoding="utf-8")
    locks = {**payload.get("locks", {}), **runner.parse_locks(args.locks)}
    exported = load_secret_env(os.environ.get(SECRET_ENV_DIR))
    if exported:
        print(f"[podrun] environment from the mounted secret: {', '.join(exported)}")
    _configure_remote(root)
    if locks:
        runner.merge_lock(root, locks)
        runner.pull(root, list(locks))
    if int(os.environ.get("PET_NODE_RANK", "0")) > 0:
        from components.orchestration.graph import load

        runner.tool_path()
        cmd = load(root / "dvc.yaml").stages[args.stage].cmd
        return subprocess.run(cmd, shell=True, cwd=root).returncode
    runner.run_stage(root, args.stage)
    runner.push(root, [args.stage])
    entry = json.dumps(runner.lock_entries(root, [args.stage]))
    for target in filter(None, (args.xcom, args.out)):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(entry, encoding="utf-8")
    if args.print_lock:
        print("\n" + LOCK_MARKER + entry, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
