"""The label-set file: one label per line (UTF-8, BOM allowed, blank lines ignored)."""

from __future__ import annotations

import os
from pathlib import Path

from components.errors import InputError


def read_label_file(path: str | os.PathLike, *, min_labels: int = 2) -> list[str]:
    """Labels in file order, de-duplicated; an InputError names the file and the fix."""
    p = Path(path)
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "does not exist"
        raise InputError(str(p), f"label set file {what}", "give a file with one label per line")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(str(p), f"not UTF-8 text ({exc.reason})", "convert it to UTF-8") from None
    labels = list(dict.fromkeys(x.strip() for x in text.splitlines() if x.strip()))
    if len(labels) < min_labels:
        raise InputError(
            str(p),
            f"{len(labels)} label(s); a classification task needs at least {min_labels}",
            "list one label per line",
        )
    return labels
