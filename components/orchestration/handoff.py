"""corpus_handoff's work: take a delivery from the drop folder, validate it, quarantine it or
version it with DVC as an input of the pipeline.

Only files the hand-off received are ever touched: a regular file directly inside the drop
folder (after resolving the path), never a symlink, never anything elsewhere (a private file, the
pipeline's own manifest). An accepted delivery goes to ``domain.deliveries.folder``, which lies
under ``domain.inputs`` (the folder ``ingest`` depends on), so the run it triggers retrains on it.
"""

from __future__ import annotations

import fnmatch
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from components.errors import ConfigError, InputError


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime())


def received(root: Path, drop: str, path: str | Path, patterns: list[str]) -> Path:
    """The delivery ``path`` names (absolute, relative to the project, or a file name in the drop
    folder), resolved, if the hand-off may take it: a regular file directly inside the drop
    folder whose name matches ``patterns``. Anything else is an InputError and nothing moves."""
    folder = (root / drop).resolve()
    given = Path(path)
    candidate = given if given.is_absolute() else root / given
    if not given.is_absolute() and not candidate.exists() and (folder / given).exists():
        candidate = folder / given
    fix = f"drop the file into {folder} (a regular file, not a link) and trigger again"
    if candidate.is_symlink():
        raise InputError(str(path), "is a symbolic link: the hand-off never follows links", fix)
    if not candidate.exists():
        raise InputError(str(path), "delivery not found", fix)
    real = candidate.resolve()
    if real.parent != folder:
        raise InputError(
            str(path), f"is outside the drop folder {folder}: not a delivery, left untouched", fix
        )
    if not stat.S_ISREG(real.lstat().st_mode):
        raise InputError(str(path), "is not a regular file", fix)
    if not any(fnmatch.fnmatch(real.name, pat) for pat in patterns):
        raise InputError(
            str(path),
            f"does not match the delivery patterns {patterns} (orchestration.handoff.patterns)",
            "rename it to one of the patterns",
        )
    return real


def pick(root: Path, drop: str, patterns: list[str], path: str | None) -> Path | None:
    """The triggered path (checked by ``received``), else the oldest delivery in the drop folder
    (regular files only), else None."""
    if path:
        return received(root, drop, path, patterns)
    folder = root / drop
    found = sorted(
        (f for pat in patterns for f in folder.glob(pat) if f.is_file() and not f.is_symlink()),
        key=lambda f: (f.stat().st_mtime, f.name),
    )
    return received(root, drop, found[0], patterns) if found else None


def deliveries_folder(root: Path) -> str:
    """``domain.deliveries.folder``: where accepted deliveries become inputs of ingest."""
    from components.config import load_section

    domain = load_section("domain", root / "params.yaml")
    if domain.deliveries is None:
        raise ConfigError(
            "domain.deliveries: not set, so an accepted delivery would feed nothing; set "
            f"domain.deliveries.folder (e.g. {domain.inputs}/deliveries) to hand off corpora"
        )
    return domain.deliveries.folder


def validate_delivery(
    root: Path, delivery: Path, reports: str, quarantine: str, drop: str, patterns: list[str]
) -> dict[str, Any]:
    """``dapt validate --corpus FILE --report DIR`` (exit 0 pass, 1 fail, 2 usage).

    A failing delivery moves to ``<quarantine>/<name>-<time>/`` with a copy of its report, so the
    drop folder only ever holds unprocessed files.
    """
    delivery = received(root, drop, delivery, patterns)  # again: nothing else is ever moved
    report = root / reports / f"{delivery.stem}-{_stamp()}"
    dapt = Path(sys.executable).parent / "dapt"
    cmd = [str(dapt), "validate", "--corpus", str(delivery), "--report", str(report)]
    print("[handoff] " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n")
    if proc.returncode == 0:
        return {"passed": True, "path": str(delivery), "report": str(report)}
    if proc.returncode == 2:
        raise ConfigError(f"dapt validate usage error (exit 2): {proc.stderr.strip()[-500:]}")
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


def version_delivery(
    root: Path, outcome: dict[str, Any], drop: str, patterns: list[str]
) -> dict[str, str]:
    """Move the delivery into ``domain.deliveries.folder``, ``dvc add`` it and push it: the next
    ``ingest`` reads it (its dependency ``domain.inputs`` holds the folder)."""
    from dvc.repo import Repo

    from components.orchestration import runner

    accepted = deliveries_folder(root)
    src = received(root, drop, outcome["path"], patterns)
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
