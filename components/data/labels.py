"""The label-set file: one label per line (UTF-8, BOM allowed, blank lines ignored)."""

from __future__ import annotations

import os
from pathlib import Path

from components.errors import InputError


def read_label_file(
    path: str | os.PathLike, *, min_labels: int = 2, allow_symlinks: bool = False
) -> list[str]:
    """Labels in file order, de-duplicated; an InputError names the file and the fix."""
    from components.data.readers import check_input_file

    p = Path(path)
    check_input_file(p, allow_symlinks=allow_symlinks, listed=(".txt",))
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
