"""Atomic training checkpoints with a verified ``latest.json`` pointer.

``DIR/step-00000100.pt`` holds model, optimizer, scheduler, EMA, history and the data position;
``DIR/latest.json`` names the newest one with its SHA-256. A checkpoint is written to a temp file
and renamed, so a kill mid-write leaves the previous one intact; older ones are pruned only after
the new one is complete. A missing or corrupt file is an error naming it; nothing is deleted then.

No pickle is executed on load: the state is plain tensors, numbers, strings, lists and dicts, and
it is read with ``torch.load(weights_only=True)``, whose unpickler builds only those. The SHA-256
in ``latest.json`` sits in the same writable folder, so it detects corruption, not tampering: a
planted pickle payload (code to run on load) is refused by the loader itself, unexecuted.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from components.data.writers import atomic_open, write_json
from components.errors import InputError

POINTER = "latest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(folder: Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    _check_plain(state, "state")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:08d}.pt"
    with atomic_open(path, "wb") as f:
        torch.save(state, f)
    write_json(folder / POINTER, {"step": step, "file": path.name, "sha256": _sha256(path)})
    for old in sorted(folder.glob("step-*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
    return path


def _others(folder: Path, but: str) -> str:
    names = [p.name for p in sorted(folder.glob("step-*.pt")) if p.name != but]
    return ", ".join(names) if names else "none"


def load(folder: Path) -> dict[str, Any] | None:
    """The newest checkpoint's state, or None when ``folder`` holds no checkpoint at all."""
    pointer = folder / POINTER
    if not pointer.exists():
        if any(folder.glob("step-*.pt")):
            raise InputError(
                str(pointer),
                "checkpoint files exist but the pointer naming the newest one is missing",
                f"restore {POINTER} or delete {folder} to start over (nothing was deleted)",
            )
        return None
    try:
        meta = json.loads(pointer.read_text(encoding="utf-8"))
        name, digest = meta["file"], meta["sha256"]
    except (ValueError, KeyError) as exc:
        raise InputError(
            str(pointer), f"unreadable checkpoint pointer ({exc})", f"delete {folder} to start over"
        ) from None
    path = folder / name
    fix = (
        f"delete {path.name} and point {POINTER} at an older checkpoint "
        f"(kept: {_others(folder, name)}), or delete {folder} to start over; nothing was deleted"
    )
    if not path.exists():
        raise InputError(str(path), "the newest checkpoint named by latest.json is missing", fix)
    if _sha256(path) != digest:
        raise InputError(str(path), "checkpoint is corrupt (SHA-256 differs from latest.json)", fix)
    try:
        with open(path, "rb") as f:
            return torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            str(path),
            "checkpoint holds objects other than tensors and plain data (a pickle that would "
            f"run code on load); refused, nothing from it was executed ({first[:200]})",
            f"delete {folder} to start this stage over from its inputs (or restore the "
            "checkpoint from a trusted copy); never load it with weights_only=False",
        ) from None
    except Exception as exc:
        raise InputError(str(path), f"cannot read checkpoint: {exc}", fix) from None


_PLAIN = (torch.Tensor, int, float, bool, str, type(None))


def _check_plain(obj: Any, where: str) -> None:
    """Fail at save time (not at the next resume) when the state holds an object the safe
    loader would refuse."""
    if isinstance(obj, _PLAIN):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise TypeError(f"{where}: key {k!r} is {type(k).__name__}, not str/int")
            _check_plain(v, f"{where}.{k}")
        return
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: {type(obj).__name__} cannot be loaded with weights_only=True")


def clear(folder: Path) -> None:
    for p in (*folder.glob("step-*.pt"), folder / POINTER):
        p.unlink(missing_ok=True)
    if folder.exists() and not any(folder.iterdir()):
        os.rmdir(folder)
