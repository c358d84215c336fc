"""Which files a reader may open: regular files only (no symbolic link unless allowed, no FIFO,
device, socket or folder), and advice that names the setting the user can change: the flag of
an ad-hoc command, or the params key of an input configured in params.yaml (``hints``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from components.errors import InputError

FORMATS = ("jsonl", "txt", "tsv", "csv")
# The flags of the ad-hoc commands; a stage reading params passes the params keys instead.
FLAGS = {
    "encoding": "--encoding",
    "text_field": "--text-field",
    "label_field": "--label-field",
    "format": "--format",
}
# Links that DVC itself makes (cache.type symlink) point at an object of its cache (content-
# addressed, checked by DVC): not a way to pull in an arbitrary file.
_DVC_OBJECT = re.compile(r"/files/md5/[0-9a-f]{2}/[0-9a-f]{30}(\.dir)?$")


def how_to_set(kind: str, value: str, hints: dict[str, str] | None) -> str:
    """'pass --encoding gb18030' or 'set domain.corpus[2].encoding: gb18030 in params.yaml'."""
    key = (hints or {}).get(kind)
    if key:
        return f"set {key}: {value} in params.yaml"
    return f"pass {FLAGS.get(kind, '--' + kind.replace('_', '-'))} {value}"


def _symlink_in(path: Path) -> Path | None:
    """The first symbolic link on ``path``: the file itself, or for a relative path any folder
    below the working directory (an absolute path names its folders on purpose)."""
    if path.is_symlink():
        return path
    if path.is_absolute():
        return None
    for parent in reversed(path.parents[:-1] if len(path.parents) > 1 else []):
        if parent.is_symlink():
            return parent
    return None


def _listable(f: Path, suffixes: tuple[str, ...]) -> bool:
    name = f.name.lower().removesuffix(".gz")
    return (
        f.is_file()
        and not f.is_symlink()
        and not f.name.startswith(".")
        and (name.endswith(suffixes))
    )


def check_input_file(
    path: str | os.PathLike,
    *,
    allow_symlinks: bool = False,
    hints: dict[str, str] | None = None,
    listed: tuple[str, ...] = tuple(f".{f}" for f in (*FORMATS, "json")),
) -> str | None:
    """Refuse anything but a regular file; returns the resolved target when ``path`` goes
    through an allowed symbolic link (None otherwise). A folder's error lists the files in it
    that could be meant (``listed``: their suffixes), so the advice can be followed."""
    p = Path(path)
    key = (hints or {}).get("path")
    where = f"set {key} to" if key else "pass"
    link = _symlink_in(p)
    resolved = None
    if link is not None:
        target = os.path.realpath(p)
        if not allow_symlinks and not _DVC_OBJECT.search(target):
            allow = (hints or {}).get("allow_symlinks") or "domain.allow_symlinks"
            raise InputError(
                str(path),
                f"{'is' if link == p else 'goes through'} a symbolic link ({link} -> "
                f"{os.readlink(link)}): inputs are read from regular files only, so a link "
                "cannot pull a file from elsewhere into the pipeline",
                f"copy the file into the project in place of the link (cp --remove-destination "
                f'"$(readlink -f {p})" {p}), or, if following links is intended, set {allow}: '
                "true in params.yaml (the resolved target is then recorded in the lineage)",
            )
        resolved = target
    if not p.exists():
        if link is not None:
            raise InputError(
                str(path),
                f"symbolic link to a missing file ({resolved})",
                f"{where} an existing regular file",
            )
        raise InputError(str(path), "file does not exist", f"{where} an existing file")
    if p.is_dir():
        inside = sorted(f.name for f in p.iterdir() if _listable(f, listed))
        shown = ", ".join(str(p / f) for f in inside[:3]) + (", ..." if len(inside) > 3 else "")
        raise InputError(
            str(path),
            "is a folder, not a file",
            f"{where} the file(s) inside it" + (f": {shown}" if shown else " (it holds no files)"),
        )
    if not p.is_file():
        raise InputError(
            str(path),
            "is not a regular file (a FIFO, device or socket): it cannot be read twice or hashed",
            f"{where} a regular file (copy the data into one first)",
        )
    return resolved
