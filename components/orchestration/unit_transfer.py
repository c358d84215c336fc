"""Fanned-out units between pods: staged folders through the DVC remote, by content hash.

On Kubernetes a fanned-out stage (the fine-tune matrix) runs one pod per group of units; each
writes its units into the stage's staging folder (``<out>.units/<unit id>/``), which no DVC stage
tracks. :func:`push_units` uploads each unit folder straight to the DVC remote (``dvc add
--to-remote``: content-addressed, the same cache layout as every other output, no local cache
copy) and returns its entry (md5 of the directory listing, size, file count); the stage's own pod
gets those entries and :func:`pull_units` materialises them into its staging folder, where the
stage takes every unit whose key matches the one it would run it with (components/finetune/units.py).

The remote is the one the pod's DVC configuration names (``DAPT_DVC_REMOTE``, podrun); the
entries are plain data (XCom), checked before use: unit ids are relative paths of plain names
(never ``..`` or absolute), hashes are MD5 hex, so an entry cannot write outside the staging
folder or name anything but a remote object.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from components.data.outputs import units_folder
from components.orchestration.graph import load

# Scratch folder at the checkout's root for the transient .dvc files (a pod's checkout only).
TRANSFER = ".dapt-transfer"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


class UnitTransferError(RuntimeError):
    """A unit entry or folder is not what the protocol allows: nothing was transferred."""


def check_unit_id(unit: str) -> str:
    parts = unit.split("/")
    if not parts or not all(_SEGMENT.match(p) and p not in (".", "..") for p in parts):
        raise UnitTransferError(
            f"unit id {unit!r}: expected a relative path of plain names such as "
            "'base/full/seed0' (letters, digits, '.', '_', '-'; no '..', no leading '/')"
        )
    return unit


def check_entry(unit: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or set(entry) - {"md5", "size", "nfiles", "hash"}:
        raise UnitTransferError(f"unit {unit}: entry must hold md5, size, nfiles, hash only")
    if not isinstance(entry.get("md5"), str) or not _MD5.match(entry["md5"]):
        raise UnitTransferError(f"unit {unit}: md5 {entry.get('md5')!r} is not an MD5 hash")
    if entry.get("hash", "md5") != "md5":
        raise UnitTransferError(f"unit {unit}: hash {entry['hash']!r}: only md5 is used")
    return dict(entry)


def check_entries(entries: Any) -> dict[str, dict[str, Any]]:
    """``{unit id: entry}`` as other pods pushed it, every id and entry checked."""
    if not isinstance(entries, dict):
        raise UnitTransferError("units must map unit ids to DVC entries")
    return {check_unit_id(u): check_entry(u, e) for u, e in entries.items()}


def staging_folder(root: str | Path, stage: str) -> Path:
    """``<first out>.units`` of ``stage`` in dvc.yaml (where its ``--unit`` runs write)."""
    outs = load(Path(root) / "dvc.yaml").stages[stage].outs
    if not outs:
        raise UnitTransferError(f"stage {stage} has no outputs: nothing to fan out")
    return units_folder(Path(root) / outs[0])


def _slug(unit: str) -> str:
    return hashlib.sha256(unit.encode()).hexdigest()[:16]


def _dvc(root: Path, args: list[str]) -> None:
    done = subprocess.run(["dvc", *args, "-q"], cwd=root, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"dvc {' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")


def push_units(root: str | Path, stage: str, units: list[str]) -> dict[str, dict[str, Any]]:
    """Upload each unit's staged folder to the default DVC remote; returns {unit: entry}."""
    root = Path(root)
    staging = staging_folder(root, stage)
    scratch = root / TRANSFER
    scratch.mkdir(exist_ok=True)
    entries: dict[str, dict[str, Any]] = {}
    try:
        for unit in units:
            folder = staging / check_unit_id(unit)
            if not folder.is_dir():
                raise UnitTransferError(f"unit {unit}: {folder} was not written by the stage")
            slug = _slug(unit)
            _dvc(root, ["add", str(folder), "--out", f"{TRANSFER}/{slug}", "--to-remote"])
            dvcfile = yaml.safe_load((scratch / f"{slug}.dvc").read_text(encoding="utf-8"))
            out = dvcfile["outs"][0]
            entries[unit] = check_entry(unit, {k: out[k] for k in out if k != "path"})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"[podrun] pushed {len(entries)} unit(s) of {stage} to the DVC remote")
    return entries


def pull_units(root: str | Path, stage: str, entries: dict[str, Any]) -> list[str]:
    """Materialise units pushed by other pods into ``stage``'s staging folder; returns their ids.

    Every entry is checked before anything is fetched; a unit already staged is replaced (the
    stage still compares each unit's key before it takes it)."""
    root = Path(root)
    checked = check_entries(entries)
    if not checked:
        return []
    staging = staging_folder(root, stage)
    scratch = root / TRANSFER
    scratch.mkdir(exist_ok=True)
    try:
        files = []
        for unit, entry in checked.items():
            name = f"{TRANSFER}/{_slug(unit)}.dvc"
            out = {**entry, "path": _slug(unit)}
            (root / name).write_text(yaml.safe_dump({"outs": [out]}), encoding="utf-8")
            files.append(name)
        _dvc(root, ["pull", *files])
        for unit in checked:
            dst = staging / unit
            if dst.exists():
                shutil.rmtree(dst)
            dst.parent.mkdir(parents=True, exist_ok=True)
            src = scratch / _slug(unit)
            # DVC may check out as links into its cache: copy what is a link, move the rest.
            if any(p.is_symlink() for p in src.rglob("*")):
                shutil.copytree(src, dst, symlinks=False)
            else:
                os.replace(src, dst)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(scratch)
    print(f"[podrun] pulled {len(checked)} unit(s) of {stage} from the DVC remote")
    return list(checked)
