"""The fine-tune matrix fanned out: one unit of work per (candidate, strategy, seed[, shots or
label budget]).

An orchestrator runs units as separate tasks (``dapt finetune --unit <id>``: Airflow's dynamic
task mapping, one pod each on a cluster) into a staging folder beside the stage output
(``<out>.units/<candidate>/<strategy>/seed<k>/``). The DVC stage (``dapt finetune``) then takes
every staged unit whose key equals the key it would run it with now, runs the others itself,
and writes the one stage output that DVC hashes and locks. The key covers everything a run's
result depends on (the unit, the resolved recipe with its thread count, the bytes of the
backbone and of the task files, the code), and a run is deterministic given those, so a staged
result is reused only where running it again would reproduce it: dvc.lock stays honest, and a
staged unit left from other inputs or older code is run again, never trusted.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

from components.data.outputs import units_folder
from components.data.writers import write_json
from components.errors import ConfigError
from components.finetune.core import RunResult
from components.finetune.matrix import RESULT, Unit, from_path
from components.finetune.params import FinetuneParams

KEY = "unit.json"  # written last: a unit without it was interrupted and runs again
TASK_FILES = ("train.jsonl", "dev.jsonl", "test.jsonl", "labels.txt")


def staging(out: str | Path) -> Path:
    """Where fanned-out units write, beside the stage output (not an output DVC tracks)."""
    return units_folder(out)


def unit_id(unit: Unit) -> str:
    """``dapt/lora/seed0``, ``base/pet-32shot/seed1``, ``dapt/full-8pc/seed2``: the unit's
    folder under the output."""
    return f"{unit.combo}/seed{unit.seed}"


def parse_id(text: str) -> Unit:
    parts = text.strip("/").split("/")
    try:
        if len(parts) != 3:
            raise ValueError(text)
        return from_path(*parts)
    except ValueError:
        raise ConfigError(
            f"--unit {text!r}: not a unit id (<candidate>/<strategy>/seed<k>, as --plan lists)"
        ) from None


def _update(h: hashlib._Hash, path: Path) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


@functools.cache
def tree_digest(folder: str, suffix: str = "") -> str:
    """sha256 of every file under ``folder`` (names and bytes), in a stable order."""
    h = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob(f"*{suffix}") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        _update(h, path)
    return h.hexdigest()


def code_digest() -> str:
    """The whole ``components`` package: stricter than the stage's code deps, never looser."""
    return tree_digest(str(Path(__file__).resolve().parents[1]), ".py")


def task_digest(task_dir: str | Path) -> str:
    h = hashlib.sha256()
    for name in TASK_FILES:
        h.update(name.encode() + b"\0")
        _update(h, Path(task_dir) / name)
    return h.hexdigest()


def unit_key(unit: Unit, run_ft: FinetuneParams, backbone: str, task: str) -> str:
    payload = {
        "unit": dataclasses.asdict(unit),
        "recipe": dataclasses.asdict(run_ft),
        "backbone": tree_digest(str(Path(backbone).resolve())),
        "task": task,
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def staged(folder: Path, key: str) -> RunResult | None:
    """The staged result in ``folder`` when it is complete and was run with ``key``."""
    try:
        marker = json.loads((folder / KEY).read_text(encoding="utf-8"))
        if marker.get("key") != key:
            return None
        return RunResult(**json.loads((folder / RESULT).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def mark_done(unit: Unit, folder: Path, key: str) -> None:
    write_json(folder / KEY, {"unit": unit_id(unit), "key": key})


def link_tree(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` with hard links where the filesystem allows (checkpoints are
    large; the staged copy stays intact until the stage succeeded)."""

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst, copy_function=link)
