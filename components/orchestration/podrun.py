"""Run one stage inside a container (Kubernetes pod or Kubeflow step), sharing data via DVC.

``python -m components.orchestration.podrun --stage S [--locks JSON ...] [--xcom PATH]``

1. optional input from the Airflow side (``DAPT_POD_INPUT``): the SHA-256 of the workspace's
   dvc.yaml and params.yaml, its profile, and the parents' dvc.lock entries. The pod runs the
   dvc.yaml and params.yaml of its own image (the checked-out commit), never files from its
   environment: it switches to the workspace's profile (the one line ``make run`` edits), then
   refuses to run when either file differs from the workspace's, since the stage command, its
   parameters and the dvc.lock entries would not match what the workspace expects;
2. ``--locks``: parents' dvc.lock entries from upstream Kubeflow steps;
3. pull the parents' outputs, ``dvc repro --single-item S``, push S's outputs;
4. write ``{S: <dvc.lock entry>}`` to ``--xcom`` / ``--out`` for whoever runs next, or print it
   (``--print-lock``: a TrainJob has no XCom sidecar; trainjob_run.lock_entry reads it back).

A fanned-out stage (the fine-tune matrix) on Kubernetes: ``--unit ID`` pods pull the parents, run
the stage's command with those ``--unit`` arguments, push the staged unit folders to the DVC
remote and write ``{"units": {ID: entry}}`` as XCom (unit_transfer.py); the stage's own pod gets
every entry in its input (``"units"``), pulls them into its staging folder and runs ``dvc repro``,
which takes each unit staged with the key it would run it with.

In a multi-node TrainJob every node runs this; nodes other than 0 (``PET_NODE_RANK``) pull the
inputs and run the stage's command directly (it joins node 0's torchrun rendezvous), leaving DVC
bookkeeping, outputs and the push to node 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from components.orchestration import runner, unit_transfer
from components.orchestration.graph import load
from components.orchestration.pods import POD_INPUT_ENV
from components.orchestration.trainjob import LOCK_MARKER, SECRET_ENV_DIR
from components.remote import env_remote


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


CHECKED = ("dvc.yaml", "params.yaml")


class PodInputError(RuntimeError):
    """The pod's files or its input do not match the workspace: nothing was run."""


def digests(root: Path) -> dict[str, str]:
    """SHA-256 of the files that decide what a stage runs (sent by the Airflow side)."""
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in CHECKED}


def apply_input(root: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """Check the pod's checkout against the workspace; returns the parents' lock entries."""
    from components.config import PROFILES

    unknown = sorted(set(payload) - {"digests", "profile", "locks", "units"})
    if unknown:
        raise PodInputError(
            f"{POD_INPUT_ENV} carries {', '.join(unknown)}: a pod never takes files from its "
            "environment (it would run whatever command they name); the scheduler and the "
            "image are of different versions: deploy both from the same commit"
        )
    profile = payload.get("profile")
    if profile is not None:
        if profile not in PROFILES:
            raise PodInputError(f"{POD_INPUT_ENV}: profile {profile!r} is not one of {PROFILES}")
        from components.profiles import write_profile

        write_profile(root / "params.yaml", profile)
    want = payload.get("digests") or {}
    for name in CHECKED:
        if name not in want:
            continue
        path = root / name
        have = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
        if want[name] != have:
            raise PodInputError(
                f"{name} in this image (sha256 {have[:12]}) differs from the workspace's "
                f"({str(want[name])[:12]}): the pod would run other stages or parameters than the "
                "workspace expects, so it runs nothing. Commit the workspace's changes and build "
                "the stage image from that commit (tag it with `git rev-parse HEAD`)"
            )
    locks = payload.get("locks") or {}
    if not isinstance(locks, dict) or not all(isinstance(v, dict) for v in locks.values()):
        raise PodInputError(f"{POD_INPUT_ENV}: locks must map stage names to dvc.lock entries")
    return locks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="podrun", description=__doc__.splitlines()[0])
    p.add_argument("--stage", required=True)
    p.add_argument("--locks", action="append", default=[], help="JSON {stage: lock entry}")
    p.add_argument("--xcom", help="write the stage's lock entry here (Airflow XCom file)")
    p.add_argument("--out", help="write the stage's lock entry here (Kubeflow output)")
    p.add_argument("--print-lock", action="store_true", help="print the lock entry (TrainJob)")
    p.add_argument(
        "--unit", action="append", default=[], help="run only this unit of a fanned-out stage"
    )
    p.add_argument("--root", default=".")
    args = p.parse_args(argv)
    root = Path(args.root).resolve()

    try:
        payload = json.loads(os.environ.get(POD_INPUT_ENV) or "{}")
        if not isinstance(payload, dict):
            raise PodInputError(f"{POD_INPUT_ENV} must be a JSON object")
        locks = {**apply_input(root, payload), **runner.parse_locks(args.locks)}
        # Checked before anything is pulled or run: ids and entries other pods sent.
        staged = unit_transfer.check_entries(payload.get("units") or {})
        units = [unit_transfer.check_unit_id(u) for u in args.unit]
    except (PodInputError, unit_transfer.UnitTransferError, ValueError) as exc:
        print(f"[podrun] error: {exc}", file=sys.stderr)
        return 2
    exported = load_secret_env(os.environ.get(SECRET_ENV_DIR))
    if exported:
        print(f"[podrun] environment from the mounted secret: {', '.join(exported)}")
    env_remote(root, default=True)  # unit_transfer's dvc commands take the default remote
    if locks:
        runner.merge_lock(root, locks)
        runner.pull(root, list(locks))
    if int(os.environ.get("PET_NODE_RANK", "0")) > 0:
        runner.tool_path()
        cmd = load(root / "dvc.yaml").stages[args.stage].cmd
        return subprocess.run(cmd, shell=True, cwd=root).returncode
    if units:  # a unit pod: the stage's command for these units, their folders to the remote
        runner.run_units(root, load(root / "dvc.yaml").stages[args.stage].cmd, units)
        pushed = unit_transfer.push_units(root, args.stage, units)
        _write(json.dumps({"units": pushed}), [args.xcom, args.out])
        return 0
    unit_transfer.pull_units(root, args.stage, staged)
    runner.run_stage(root, args.stage)
    runner.push(root, [args.stage])
    entry = json.dumps(runner.lock_entries(root, [args.stage]))
    _write(entry, [args.xcom, args.out])
    if args.print_lock:
        print("\n" + LOCK_MARKER + entry, flush=True)
    return 0


def _write(entry: str, targets: list[str | None]) -> None:
    for target in filter(None, targets):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(entry, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
