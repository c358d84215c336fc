"""The validation gate: downstream stages read only files the validate stage passed.

``validate`` writes ``data/validated/manifest.json`` listing each validated file with its MD5
(the digest DVC records). A stage calls ``require_validated`` on its inputs; a file that is not in
the manifest, or changed since it was validated, stops the stage before any work.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from components.data.text import file_digest
from components.errors import InputError

DEFAULT_MANIFEST = "data/validated/manifest.json"


def manifest_key(path: str | os.PathLike) -> str:
    """Project-relative path when under the working directory (the project root), else absolute."""
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute)
    return absolute if rel.startswith("..") else os.path.normpath(rel)


def require_validated(
    paths: list[str | os.PathLike], manifest: str | os.PathLike = DEFAULT_MANIFEST
) -> None:
    if not paths:  # nothing read from raw inputs (e.g. `tokenizer extend` reads a lexicon only)
        return
    mpath = Path(manifest)
    if not mpath.exists():
        raise InputError(
            str(mpath),
            "no validation manifest: inputs were never validated",
            "run `dvc repro validate` (or `dapt validate ... --manifest`) first",
        )
    entries = json.loads(mpath.read_text(encoding="utf-8"))
    if not entries.get("passed"):
        raise InputError(
            str(mpath),
            "the last validation failed",
            "fix the inputs named in reports/validation/summary.txt and re-run validate",
        )
    files = entries.get("files", {})
    for p in paths:
        key = manifest_key(p)
        if key not in files:
            raise InputError(
                str(p),
                f"not covered by the validation manifest {mpath}",
                "add it to the validate stage's inputs",
            )
        if file_digest(p) != files[key]["md5"]:
            raise InputError(
                str(p),
                "changed since it was validated (MD5 differs from the manifest)",
                "re-run validate on the new version",
            )
