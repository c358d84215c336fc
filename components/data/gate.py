"""The validation gate: downstream stages read only files the validate stage passed.

``validate`` writes ``data/validated/manifest.json`` listing each validated file with its MD5
(the digest DVC records). A stage calls ``require_validated`` on its inputs; a file that is not in
the manifest, or changed since it was validated, stops the stage before any work.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from components.data.shards import digest, is_empty
from components.errors import InputError

DEFAULT_MANIFEST = "data/validated/manifest.json"
# Pretraining reads only text the decontaminate stage cleaned of the task's dev/test texts.
DECONTAMINATED_MANIFEST = "data/decontaminated/manifest.json"


def manifest_key(path: str | os.PathLike) -> str:
    """Project-relative path when under the working directory (the project root), else absolute."""
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute)
    return absolute if rel.startswith("..") else os.path.normpath(rel)


def require_decontaminated(paths: list[str | os.PathLike]) -> None:
    """Fail closed unless every file is a passed output of the decontaminate stage."""
    require_validated(
        paths,
        DECONTAMINATED_MANIFEST,
        producer="decontaminate",
        fix="pretrain on the decontaminate stage's outputs (data/decontaminated/*.jsonl): "
        "they hold no dev/test text; `dvc repro decontaminate` writes them",
    )


def require_validated(
    paths: list[str | os.PathLike],
    manifest: str | os.PathLike = DEFAULT_MANIFEST,
    *,
    producer: str = "validate",
    fix: str = "add it to the validate stage's inputs",
) -> None:
    # An empty canonical file (a part this project's shape does not have) holds nothing to check.
    paths = [p for p in paths if not is_empty(p)]
    if not paths:  # nothing read from raw inputs (e.g. `tokenizer extend` reads a lexicon only)
        return
    mpath = Path(manifest)
    if not mpath.exists():
        raise InputError(
            str(mpath),
            f"no {producer} manifest: these inputs were never checked",
            f"run `dvc repro {producer}` first",
        )
    entries = json.loads(mpath.read_text(encoding="utf-8"))
    if not entries.get("passed"):
        raise InputError(
            str(mpath),
            f"the last {producer} run failed",
            f"fix what its report names and re-run `dvc repro {producer}`",
        )
    files = entries.get("files", {})
    for p in paths:
        key = manifest_key(p)
        if key not in files:
            raise InputError(
                str(p),
                f"not covered by the {producer} manifest {mpath}",
                fix,
            )
        if digest(p) != files[key]["md5"]:
            raise InputError(
                str(p),
                f"changed since {producer} checked it (MD5 differs from {mpath})",
                f"re-run `dvc repro {producer}` on the new version",
            )


VALIDATED_SWITCH = "--no-validated-check"


def add_validated_switch(parser) -> None:
    """The one switch of every stage that reads validated inputs: the check is on unless asked
    off (fail closed), for ad-hoc use on files no validate run has seen."""
    parser.add_argument(
        VALIDATED_SWITCH,
        action="store_true",
        help="skip the validation gate (ad-hoc use on files the validate stage did not check)",
    )


def require_inputs(paths: list[str | os.PathLike]) -> None:
    """Each file must be a passed output of validate or of decontaminate (whichever lists it)."""
    decon = Path(DECONTAMINATED_MANIFEST)
    listed: set[str] = set()
    if decon.exists():
        listed = set(json.loads(decon.read_text(encoding="utf-8")).get("files", {}))
    require_decontaminated([p for p in paths if manifest_key(p) in listed])
    require_validated([p for p in paths if manifest_key(p) not in listed])
