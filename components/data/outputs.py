"""A stage's outputs, replaced together or not at all, and the leftovers of killed runs cleaned.

A stage writes every output (files and folders, wherever they live) into temporary siblings
(``.<name>.<host>-<pid>.<random>.tmp``) and :class:`OutputSet` swaps them in only when the stage
succeeded. The swap is crash-safe: a journal (``.<name>.<host>-<pid>.<random>.commit``, one
beside every output, each listing the whole set) is written before the first rename, so a run
killed in the middle of the swap is completed ("rolled forward") by the next run that touches any
of these outputs. A failure before the swap leaves the last good outputs byte-identical.

Temporary siblings whose writer is dead (same host, pid gone) are removed by :func:`recover`,
which every writer calls before it creates its own: a killed ``mine`` leaves
``data/.mined.<host>-<pid>.<random>.tmp/`` behind, and the next run of anything writing
``data/mined`` removes it. The orchestrator calls :func:`recover` on a stage's outputs before
asking DVC whether the stage is up to date, so leftovers go even when the stage is skipped.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from components.errors import InputError

# mkstemp/mkdtemp create 0600/0700 entries; outputs get the modes a plain open()/mkdir() would
# give, so reports, models and data stay readable to other users (web servers, Airflow workers).
# The umask can only be read by setting it, so it is read once, at import.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
DIR_MODE = 0o777 & ~_UMASK

HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"
# .<name>.<host>-<pid>-<start>.<random>.<kind>; <name> may hold dots, the other parts cannot.
# <start> is the writer's start time (Linux: /proc/<pid>/stat), so a recycled pid is not
# mistaken for the writer.
_SIBLING = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9]*)-(?P<pid>\d+)(?:-(?P<start>\d+))?"
    r"\.[a-z0-9_]+\.(?P<kind>tmp|old|commit)$"
)
_LEGACY = re.compile(r"^\.(?P<name>.+)\.(?:[a-z0-9_]{8}\.tmp|old-\d+)$")  # before the pid tag
# A leftover of another host, or of the old naming, may belong to a live writer on a shared
# filesystem: it is removed only when nothing has touched it for this long.
FOREIGN_AGE_S = 24 * 3600
# Disk full, quota, file-size limit: the same advice fits all three.
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
FAULT_ENV = "DAPT_FAULT_AFTER_SWAPS"


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc, or None where there is no /proc entry."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], fields[19]


def tag() -> str:
    own = _proc_stat(os.getpid())
    return f"{HOST}-{os.getpid()}" + (f"-{own[1]}" if own else "")


def _alive(host: str, pid: int, start: str | None) -> bool | None:
    """Whether the writer is alive; None when it ran on another host (unknowable here)."""
    if host != HOST:
        return None
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        # A killed process stays a zombie until its parent reaps it (in a container whose
        # init does not reap, for ever): it writes nothing more.
        return state not in "ZX" and (start is None or started == start)
    if Path("/proc/self/stat").exists():
        return False  # Linux, and no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _old_enough(path: Path) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > FOREIGN_AGE_S
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _siblings(final: Path) -> Iterable[tuple[Path, re.Match | None, bool]]:
    """(leftover, its name match, whether its writer is gone) beside ``final``."""
    parent = final.parent
    if not parent.is_dir():
        return
    prefix = f".{final.name}."
    for entry in sorted(parent.iterdir()):
        if not entry.name.startswith(prefix):
            continue
        m = _SIBLING.match(entry.name)
        if m and m.group("name") == final.name:
            state = _alive(m.group("host"), int(m.group("pid")), m.group("start"))
            yield entry, m, state is False or (state is None and _old_enough(entry))
            continue
        legacy = _LEGACY.match(entry.name)
        if legacy and legacy.group("name") == final.name:
            yield entry, None, _old_enough(entry)


def resume_folder(final: str | os.PathLike) -> Path:
    """Where a long-running writer of ``final`` keeps what it resumes from (pretraining's
    checkpoints): beside the output, removed once the output is complete."""
    return Path(f"{final}.checkpoints")


def units_folder(final: str | os.PathLike) -> Path:
    """Where a fanned-out stage's units stage their results (one folder per unit id), beside
    the output; the stage takes them into ``final`` and removes the folder."""
    return Path(f"{final}.units")


def recover(final: str | os.PathLike) -> list[str]:
    """Finish or clean up what dead writers left beside ``final``; returns what was done.

    A journal of a dead writer is rolled forward (its set was complete when it was written);
    then dead writers' temporary files and folders are removed. Live writers are left alone.
    """
    final = Path(final)
    done: list[str] = []
    for entry, m, dead in list(_siblings(final)):
        if dead and m is not None and m.group("kind") == "commit" and entry.exists():
            done += _roll_forward(entry)
    for entry, m, dead in list(_siblings(final)):
        if not dead:
            continue
        kind = m.group("kind") if m else "tmp"
        if kind == "old" and not final.exists() and not final.is_symlink():
            os.replace(entry, final)  # swapped out, never replaced: it is the last good output
            done.append(f"restored {final}")
        else:
            _remove(entry)
            done.append(f"removed {entry}")
    return done


def _roll_forward(journal: Path) -> list[str]:
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        _remove(journal)  # a journal is renamed into place whole: unreadable = not ours
        return [f"removed unreadable {journal}"]
    base = journal.parent
    pairs = [(base / tmp, base / final, base / old) for tmp, final, old in data["pairs"]]
    for tmp, final, old in pairs:
        _swap(tmp, final, old)
    for _, _, old in pairs:
        _remove(old)
    for other in data["journals"]:
        _remove(base / other)
    return [f"completed the interrupted replacement of {', '.join(str(f) for _, f, _ in pairs)}"]


def _swap(tmp: Path, final: Path, old: Path) -> None:
    """Put ``tmp`` in place of ``final`` (the previous one moves to ``old``); idempotent."""
    if not (tmp.exists() or tmp.is_symlink()):
        return  # already swapped in
    if tmp.is_dir() and (final.exists() or final.is_symlink()):
        if final.is_dir() and not final.is_symlink():
            os.replace(final, old)
        else:
            final.unlink()
    os.replace(tmp, final)  # a file replaces a file atomically
    if tmp.parent.name.startswith(f".{final.name}.") and tmp.name == final.name:
        with contextlib.suppress(OSError):
            tmp.parent.rmdir()  # the (now empty) folder that held a staged file


def temp_name(final: Path, kind: str = "tmp") -> Path:
    return final.with_name(f".{final.name}.{tag()}.{os.urandom(4).hex()}.{kind}")


def shown(path: str | os.PathLike) -> str:
    """``path`` as the user knows it: temporary components mapped back to the output's name."""
    parts: list[str] = []
    staged = None
    for part in Path(path).parts:
        if staged is not None and part == staged:
            staged = None
            continue  # a staged file sits in a folder named after it: one name is enough
        m = _SIBLING.match(part)
        staged = m.group("name") if m else None
        parts.append(staged or part)
    return str(Path(*parts)) if parts else str(path)


def write_error(exc: OSError, path: str | os.PathLike) -> InputError | None:
    """An actionable error for a failed write of ``path``, or None when it is not about space
    or permissions (then the original error says more)."""
    where = Path(shown(exc.filename or path))
    folder = where.parent
    if exc.errno in NO_SPACE:
        return InputError(
            str(where),
            f"cannot write: {os.strerror(exc.errno)} (the disk, a quota or the file-size limit "
            "`ulimit -f` is exhausted); the previous outputs were left as they were",
            f"free space on the disk holding {folder} (df -h {folder}) or raise the limit "
            "(ulimit -f unlimited), then run the stage again",
        )
    if exc.errno in NOT_WRITABLE:
        return InputError(
            str(where),
            f"cannot write: {os.strerror(exc.errno)} (the folder is read-only for this user); "
            "the previous outputs were left as they were",
            f"make {folder} writable for this user (chmod u+w {folder}; on a read-only mount, "
            "remount it read-write), then run the stage again",
        )
    return None


class OutputSet:
    """Stage outputs in temporary siblings; swap them all in at the end, or none on failure.

    ::

        with OutputSet() as outs:
            build(outs.dir("data/mined"))              # an empty folder to fill
            write_json(outs.file("metrics/mine.json"), metrics)
            plot(outs.file("plots/mine.png"))          # a path; not written = not replaced
    """

    def __init__(self) -> None:
        self._pairs: dict[Path, Path] = {}  # final -> what replaces it
        self._holders: dict[Path, Path] = {}  # final -> its temporary sibling folder

    def __enter__(self) -> OutputSet:
        return self

    def _stage(self, final: str | os.PathLike, is_dir: bool) -> Path:
        final = Path(final)
        if final in self._pairs:
            return self._pairs[final]
        recover(final)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            holder = temp_name(final)
            holder.mkdir()
        except OSError as exc:
            raise (write_error(exc, final) or exc) from None
        # A file is staged under its own name inside a temporary folder, so whatever infers the
        # format from the suffix (savefig, mlflow) sees the real name.
        self._holders[final] = holder
        self._pairs[final] = holder if is_dir else holder / final.name
        return self._pairs[final]

    def file(self, final: str | os.PathLike) -> Path:
        """Where to write the file ``final``; left unwritten, ``final`` is not replaced."""
        return self._stage(final, is_dir=False)

    def dir(self, final: str | os.PathLike) -> Path:
        """An empty folder that replaces the folder ``final`` as a whole."""
        return self._stage(final, is_dir=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
            if isinstance(exc, OSError) and self._writing(exc.filename):
                mapped = write_error(exc, exc.filename or next(iter(self._pairs), "."))
                if mapped is not None:
                    raise mapped from None
            return
        try:
            self.commit()
        except OSError as exc:
            self.discard()
            raise (write_error(exc, next(iter(self._pairs), ".")) or exc) from None

    def _writing(self, filename) -> bool:
        """Whether an error is about writing these outputs (an input's error is not)."""
        if filename is None:
            return True  # write() and close() errors carry no file name
        name = shown(filename)
        return any(name == str(f) or name.startswith(f"{f}/") for f in self._pairs)

    def discard(self) -> None:
        for holder in self._holders.values():
            _remove(holder)

    def commit(self) -> None:
        for final, tmp in self._pairs.items():
            if not tmp.exists():
                _remove(self._holders[final])  # never written: the last good one stays
        pairs = [(f, t) for f, t in self._pairs.items() if t.exists()]
        if not pairs:
            return
        for _, tmp in pairs:
            if tmp.is_dir():
                os.chmod(tmp, DIR_MODE)
                _fsync_tree(tmp)
            else:
                os.chmod(tmp, FILE_MODE)
                _fsync(tmp)
        if len(pairs) == 1 and not pairs[0][1].is_dir():
            _swap(pairs[0][1], pairs[0][0], pairs[0][0])  # one file: a rename is atomic
            return
        olds = {final: temp_name(final, "old") for final, _ in pairs}
        journals = [temp_name(final, "commit") for final, _ in pairs]
        for (own, _), journal in zip(pairs, journals, strict=True):
            base = journal.parent
            rel = [
                [os.path.relpath(p, base) for p in (tmp, final, olds[final])]
                for final, tmp in pairs
            ]
            body = {"pairs": rel, "journals": [os.path.relpath(j, base) for j in journals]}
            staging = temp_name(own, "tmp")  # a dead writer's staging file is cleaned
            with open(staging, "w", encoding="utf-8") as f:
                json.dump(body, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(staging, journal)
        fault = int(os.environ.get(FAULT_ENV) or 0)  # test hook: kill -9 mid-swap
        for i, (final, tmp) in enumerate(pairs, start=1):
            _swap(tmp, final, olds[final])
            if i == fault:
                os.kill(os.getpid(), 9)
        for old in olds.values():
            _remove(old)
        for journal in journals:
            _remove(journal)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file() and not f.is_symlink():
            _fsync(f)
