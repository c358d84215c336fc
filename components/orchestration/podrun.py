"""Run one stage inside a container (Kubernetes pod or Kubeflow step), sharing data via DVC.

``python -m components.orchestration.podrun --stage S [--locks JSON ...] [--xcom PATH]``

1. optional input from the Airflow side (``DAPT_POD_INPUT``): dvc.yaml, params.yaml and the
   parents' dvc.lock entries of the workspace, so the pod runs exactly what the workspace would;
2. ``--locks``: parents' dvc.lock entries from upstream Kubeflow steps;
3. pull the parents' outputs, ``dvc repro --single-item S``, push S's outputs;
4. write ``{S: <dvc.lock entry>}`` to ``--xcom`` / ``--out`` for whoever runs next.
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
    p.add_argument("--root", default=".")
    args = p.parse_args(argv)
    root = Path(args.root).resolve()

    payload = json.loads(os.environ.get(POD_INPUT_ENV) or "{}")
    for name in ("dvc.yaml", "params.yaml"):
        if payload.get(name):
            (root / name).write_text(payload[name], encoding="utf-8")
    locks = {**payload.get("locks", {}), **runner.parse_locks(args.locks)}
    _configure_remote(root)
    if locks:
        runner.merge_lock(root, locks)
        runner.pull(root, list(locks))
    runner.run_stage(root, args.stage)
    runner.push(root, [args.stage])
    entry = json.dumps(runner.lock_entries(root, [args.stage]))
    for target in filter(None, (args.xcom, args.out)):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(entry, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
