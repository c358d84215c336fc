"""What the orchestrators' tasks execute: one DVC stage, a push, dvc.lock hand-over for pods.

Imported inside Airflow tasks (never at DAG parse time): it pulls in DVC.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def tool_path() -> None:
    # Stage commands call `dapt`: use the console script of the interpreter running this task,
    # whatever PATH the worker was started with.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def run_stage(root: str | Path, stage: str) -> dict[str, Any]:
    """``dvc repro --single-item <stage>`` through DVC's API; says whether the stage really ran.

    DVC skips the stage when its deps, params and outs match dvc.lock (or restores the outs from
    the run cache), so re-running a finished DAG is a no-op and a retried or re-triggered run
    redoes only what did not finish.
    """
    from dvc.repo import Repo

    tool_path()
    start = time.perf_counter()
    with Repo(str(root)) as repo:
        ran = repo.reproduce(stage, single_item=True)
    seconds = round(time.perf_counter() - start, 3)
    result = {"stage": stage, "ran": bool(ran), "seconds": seconds}
    print(
        f"[orchestration] stage {stage}: {'ran' if ran else 'up to date, skipped'} in {seconds} s"
    )
    return result


def push(root: str | Path, targets: list[str] | None = None, remote: str | None = None) -> int:
    """Push cached outputs to the DVC remote; returns the number of files transferred."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        pushed = repo.push(targets=targets, remote=remote or os.environ.get("DAPT_DVC_REMOTE"))
    print(f"[orchestration] dvc push: {pushed} file(s) transferred")
    return int(pushed or 0)


def pull(root: str | Path, targets: list[str]) -> None:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.pull(targets=targets, remote=os.environ.get("DAPT_DVC_REMOTE"))


def lock_entries(root: str | Path, stages: list[str]) -> dict[str, Any]:
    """The dvc.lock entries of ``stages`` (what a pod needs to pull their outputs)."""
    path = Path(root) / "dvc.lock"
    lock = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    entries = (lock or {}).get("stages", {})
    missing = [s for s in stages if s not in entries]
    if missing:
        raise RuntimeError(f"dvc.lock has no entry for {', '.join(missing)}: run them first")
    return {s: entries[s] for s in stages}


def merge_lock(root: str | Path, entries: dict[str, Any]) -> None:
    """Write stage entries produced elsewhere (a pod, a Kubeflow step) into the local dvc.lock."""
    from components.data.writers import atomic_open

    path = Path(root) / "dvc.lock"
    lock = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    lock = lock or {"schema": "2.0", "stages": {}}
    lock.setdefault("stages", {}).update(entries)
    with atomic_open(path) as f:
        yaml.safe_dump(lock, f, sort_keys=False, allow_unicode=True)


def parse_locks(values: list[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for value in values:
        if value.strip():
            merged.update(json.loads(value))
    return merged
