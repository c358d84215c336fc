"""The ``finetune`` stage: resolve the candidates and the settings, then run the matrix."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from components.config import with_derived
from components.data.labels import read_label_file
from components.data.skip import skipped_reason
from components.data.writers import write_json
from components.domain import DomainParams
from components.errors import ConfigError, InputError
from components.finetune import matrix
from components.finetune.data import Split, auto_max_len, read_split
from components.finetune.params import FinetuneParams


@dataclass
class MatrixSpec:
    """What to run (params ``evaluate``): given as plain values, so finetune imports nothing
    from the evaluation layer above it."""

    candidates: list[str]
    strategies: list[str]
    seeds: int
    workers: int
    pet_backbones: list[str]
    pet_shots: list[int]
    baseline: str
    extra: dict[str, list[str]] = field(default_factory=dict)  # strategy -> candidates


@dataclass
class Task:
    labels: list[str]
    train: Split
    dev: Split
    test: Split


def read_task(folder: str | Path) -> Task:
    folder = Path(folder)
    labels = read_label_file(folder / "labels.txt")
    train, dev, test = (read_split(folder / f"{s}.jsonl", labels) for s in ("train", "dev", "test"))
    return Task(labels, train, dev, test)


def candidate_folders(
    names: list[str], domain: DomainParams, overrides: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> folder of the candidates to run, name -> why a candidate is left out)."""
    folders, skipped = {}, {}
    for name in names:
        folder = overrides.get(name) or domain.candidate_dir(name)
        reason = skipped_reason(folder) if Path(folder).is_dir() else None
        if reason:
            skipped[name] = reason
        elif not (Path(folder) / "config.json").is_file():
            raise InputError(
                folder,
                f"candidate {name!r} is not a save_pretrained checkpoint folder",
                f"run the stage that writes it (dvc repro {name}) or remove it from "
                "evaluate.candidates",
            )
        else:
            from components.modeling.backbone import verify_weights

            verify_weights(folder)
            folders[name] = folder
    return folders, skipped


def resolve(ft: FinetuneParams, domain: DomainParams, task: Task, baseline: str) -> FinetuneParams:
    """Settings that follow the data: max_len from the task; PET words from the domain."""
    if domain.task is not None:
        pet = domain.task.pet
        ft = with_derived(ft, pet={**dataclasses.asdict(ft.pet), **dataclasses.asdict(pet)})
    if ft.max_len == 0:
        from transformers import AutoConfig, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(baseline)
        cap = getattr(AutoConfig.from_pretrained(baseline), "max_position_embeddings", 512)
        length = auto_max_len(tok, task.train.texts, ft.max_len_percentile, min(cap, 512))
        ft = dataclasses.replace(ft, max_len=length)
    return ft


def check_pet(ft: FinetuneParams, labels: list[str], wanted: bool) -> None:
    from components.finetune.pet import pet_words_problem

    missing = [x for x in labels if x not in ft.pet.label_words]
    if wanted and missing:
        raise ConfigError(pet_words_problem(missing))


def run_stage(
    domain: DomainParams,
    ft: FinetuneParams,
    ev: MatrixSpec,
    task_dir: str,
    out: Path,
    overrides: dict[str, str] | None = None,
    on_run=lambda unit, result: None,
) -> dict:
    """Everything the stage writes into ``out``; returns the stage metrics."""
    if domain.task is None:
        reason = "no labeled task (domain.task is null): nothing to fine-tune"
        write_json(out / "skipped.json", {"stage": "finetune", "reason": reason})
        return {"skipped": True, "reason": reason}
    folders, skipped = candidate_folders(ev.candidates, domain, overrides or {})
    for name, why in skipped.items():
        print(f"[finetune] candidate {name} left out: {why}", file=sys.stderr)
    if ev.baseline not in folders:
        raise InputError(domain.candidate_dir(ev.baseline), "the baseline candidate is missing")
    task = read_task(task_dir)
    ft = resolve(ft, domain, task, folders[ev.baseline])
    pet_backbones = [b for b in ev.pet_backbones if b in folders]
    check_pet(ft, task.labels, bool(pet_backbones and ev.pet_shots))
    units = matrix.plan(
        list(folders), ev.strategies, ev.seeds, pet_backbones, ev.pet_shots, ev.extra
    )
    results = matrix.run(
        units, folders, task.labels, (task.train, task.dev, task.test), ft, out, ev.workers,
        on_run,
    )  # fmt: skip
    write_json(out / "skipped.json", skipped)
    settings = {
        "max_len": ft.max_len,
        "candidates": folders,
        "seeds": ev.seeds,
        "extra_strategies": {s: c for s, c in ev.extra.items() if s not in ev.strategies},
        "labels": task.labels,
        "rows": {"train": len(task.train), "dev": len(task.dev), "test": len(task.test)},
    }
    write_json(out / "plan.json", settings)
    return {
        "runs": len(results),
        "max_len": ft.max_len,
        "seconds": round(sum(r.seconds for r in results.values()), 1),
        "skipped_candidates": skipped,
    }
