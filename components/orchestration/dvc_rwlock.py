"""Repair DVC's read/write lock file after a command was killed while writing it.

DVC records which running command reads or writes which path in ``.dvc/tmp/rwlock`` and rewrites
that JSON file in place (``open(path, "w")`` then ``json.dump``: no temporary file and rename).
A ``kill -9`` (an OOM kill, a preempted node, a task timeout) that lands inside the write leaves
truncated JSON, and from then on every ``dvc`` command in the workspace fails with "Unable to read
RWLock-file ... JSON structure is corrupted" until a person deletes the file. DVC itself already
drops the entries of dead processes from a readable file; this does the same for an unreadable
one, under DVC's own guard of the file (``rwlock.lock``), so no DVC command edits it meanwhile.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

# a complete number only: the truncation may cut the last one short (21 of 21120)
PID = re.compile(rb'"pid":\s*(\d+)\s*[,}]')


class RWLockInUseError(RuntimeError):
    """The truncated lock file names a process that is still running."""


def _hardlink_lock(dvc_dir: Path) -> bool:
    from dvc.config import Config

    return bool(Config(dvc_dir=str(dvc_dir))["core"].get("hardlink_lock", False))


def repair_rwlock(root: str | Path) -> str | None:
    """Move a truncated ``.dvc/tmp/rwlock`` aside when no process it names is alive.

    Returns what was done (None when the file is absent or readable). A process it names that is
    still running may hold locks the truncation lost: then nothing is touched and the error says
    which process to wait for.
    """
    from dvc.lock import make_lock

    dvc_dir = Path(root) / ".dvc"
    tmp = dvc_dir / "tmp"
    path = tmp / "rwlock"
    if not path.is_file():
        return None
    guard = make_lock(
        str(tmp / "rwlock.lock"), tmp_dir=str(tmp), hardlink_lock=_hardlink_lock(dvc_dir)
    )
    with guard:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            json.loads(raw)
            return None
        except ValueError:  # JSONDecodeError and bytes that are not UTF-8
            pass
        import psutil

        alive = sorted(
            {int(p) for p in PID.findall(raw)} & {p for p in psutil.pids() if p != os.getpid()}
        )
        if alive:
            raise RWLockInUseError(
                f"{path}: truncated by a DVC command killed while writing it, and process(es) "
                f"{', '.join(map(str, alive))} named in it are still running: wait for them to "
                f"end and run again (or delete {path} once no dvc command runs in {root})"
            )
        aside = path.with_name("rwlock.corrupted")
        os.replace(path, aside)
    return (
        f"{path} was truncated JSON (a DVC command killed while writing it) and no process "
        f"named in it is running: moved it to {aside.name}, DVC starts a new one"
    )
