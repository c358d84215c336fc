"""corpus_handoff's work: validate a delivered corpus, quarantine it or version it with DVC."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime())


def validate_delivery(root: Path, delivery: Path, reports: str, quarantine: str) -> dict[str, Any]:
    """``dapt validate --corpus FILE --report DIR`` (exit 0 pass, 1 fail, 2 usage).

    A failing delivery moves to ``<quarantine>/<name>-<time>/`` with a copy of its report, so the
    drop folder only ever holds unprocessed files.
    """
    report = root / reports / f"{delivery.stem}-{_stamp()}"
    dapt = Path(sys.executable).parent / "dapt"
    cmd = [str(dapt), "validate", "--corpus", str(delivery), "--report", str(report)]
    print("[handoff] " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n")
    if proc.returncode == 0:
        return {"passed": True, "path": str(delivery), "report": str(report)}
    if proc.returncode == 2:
        raise RuntimeError(f"dapt validate usage error (exit 2): {proc.stderr.strip()[-500:]}")
    if proc.returncode != 1:
        # Crashed (killed, out of memory...): not a verdict on the data; let Airflow retry.
        raise RuntimeError(f"dapt validate exited {proc.returncode}")
    target = root / quarantine / report.name
    target.mkdir(parents=True, exist_ok=True)
    shutil.move(str(delivery), target / delivery.name)
    if report.exists():
        shutil.copytree(report, target / "report", dirs_exist_ok=True)
    (target / "REJECTED.txt").write_text(
        f"{delivery.name} failed validation at {_stamp()} UTC.\n"
        f"Report: {target / 'report'}/summary.txt (index.html for the full report)\n"
        f"To retry after fixing, drop the corrected file into the drop folder again.\n",
        encoding="utf-8",
    )
    return {
        "passed": False,
        "path": str(delivery),
        "report": str(report),
        "quarantine": str(target),
    }


def version_delivery(root: Path, outcome: dict[str, Any], accepted: str) -> dict[str, str]:
    """Move the delivery into the DVC-tracked folder, ``dvc add`` it and push it to the remote."""
    from dvc.repo import Repo

    from components.orchestration import runner

    src = Path(outcome["path"])
    folder = root / accepted
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / src.name
    if dest.exists():
        dest = folder / f"{src.stem}-{_stamp()}{src.suffix}"
    shutil.move(str(src), dest)
    with Repo(str(root)) as repo:
        repo.add([str(folder)])
    dvc_file = folder.with_name(folder.name + ".dvc")
    md5 = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))["outs"][0]["md5"]
    runner.push(root, [str(dvc_file)])
    print(f"[handoff] accepted {dest} (folder md5 {md5}); commit {dvc_file.relative_to(root)}")
    return {
        "delivery": str(dest.relative_to(root)),
        "dvc_file": str(dvc_file.relative_to(root)),
        "md5": md5,
        "report": outcome["report"],
    }
