"""The ``finetune`` stage: resolve the candidates and the settings, then run the matrix, or
plan it and run some of its units for a fanned-out orchestrator (components/finetune/units.py)."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from components.config import load_section, with_derived
from components.data.gate import require_validated
from components.data.labels import read_label_file
from components.data.outputs import OutputSet
from components.data.skip import skipped_reason
from components.data.writers import write_json
from components.domain import DomainParams
from components.errors import ConfigError, InputError
from components.finetune import matrix, units
from components.finetune.core import RunResult
from components.finetune.data import Split, auto_max_len, read_split
from components.finetune.params import FinetuneParams
from components.stagerun import check_inputs, stage_tracking


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
    budgets: list[int] = field(default_factory=list)  # label-budget curve: labels per class
    budget_strategy: str = "full"


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


@dataclass
class Prepared:
    """What the stage would run now: the resolved recipe, the backbones and every unit."""

    ft: FinetuneParams
    folders: dict[str, str]
    skipped: dict[str, str]
    task: Task
    units: list[matrix.Unit]
    keys: dict[matrix.Unit, str]


def prepare(
    domain: DomainParams, ft: FinetuneParams, ev: MatrixSpec, task_dir: str, overrides: dict
) -> Prepared | None:
    """None when the project has no labeled task."""
    if domain.task is None:
        return None
    folders, skipped = candidate_folders(ev.candidates, domain, overrides)
    for name, why in skipped.items():
        print(f"[finetune] candidate {name} left out: {why}", file=sys.stderr)
    if ev.baseline not in folders:
        raise InputError(domain.candidate_dir(ev.baseline), "the baseline candidate is missing")
    task = read_task(task_dir)
    ft = resolve(ft, domain, task, folders[ev.baseline])
    pet_backbones = [b for b in ev.pet_backbones if b in folders]
    check_pet(ft, task.labels, bool(pet_backbones and ev.pet_shots))
    found = matrix.plan(
        list(folders), ev.strategies, ev.seeds, pet_backbones, ev.pet_shots, ev.extra,
        ev.budgets, ev.budget_strategy,
    )  # fmt: skip
    run_ft, digest = matrix.run_params(ft, ev.workers), units.task_digest(task_dir)
    keys = {u: units.unit_key(u, run_ft, folders[u.candidate], digest) for u in found}
    return Prepared(ft, folders, skipped, task, found, keys)


def plan_units(p: Prepared | None, staged_dir: Path) -> list[dict]:
    """Every unit of the matrix and whether a complete result for it is already staged."""
    if p is None:
        return []
    return [
        {"id": units.unit_id(u), "done": units.staged(u.folder(staged_dir), p.keys[u]) is not None}
        for u in p.units
    ]


def run_units(p: Prepared | None, ids: list[str], ev: MatrixSpec, staged_dir: Path) -> int:
    """Run the named units into the staging folder (those already staged with their key are
    left alone); returns how many ran."""
    if p is None:
        print("[finetune] no labeled task: no units to run")
        return 0
    wanted = [units.parse_id(i) for i in ids]
    unknown = [units.unit_id(u) for u in wanted if u not in p.keys]
    if unknown:
        raise ConfigError(f"units not in the plan: {', '.join(unknown)} (see --plan)")
    todo = [u for u in wanted if units.staged(u.folder(staged_dir), p.keys[u]) is None]
    for u in todo:
        shutil.rmtree(u.folder(staged_dir), ignore_errors=True)  # an interrupted earlier try
    if len(todo) < len(wanted):
        print(f"[finetune] {len(wanted) - len(todo)} unit(s) already staged with the same key")
    if todo:
        splits = (p.task.train, p.task.dev, p.task.test)
        matrix.run(
            todo, p.folders, p.task.labels, splits, p.ft, staged_dir, ev.workers,
            lambda u, r: units.mark_done(u, u.folder(staged_dir), p.keys[u]), keep_best=False,
        )  # fmt: skip
    return len(todo)


def run_stage(
    domain: DomainParams,
    ft: FinetuneParams,
    ev: MatrixSpec,
    task_dir: str,
    out: Path,
    overrides: dict[str, str] | None = None,
    on_run=lambda unit, result: None,
    staged_dir: Path | None = None,
) -> dict:
    """Everything the stage writes into ``out``; returns the stage metrics. Units staged in
    ``staged_dir`` by fanned-out tasks with the key this run would use are taken as they are;
    the others run here."""
    p = prepare(domain, ft, ev, task_dir, overrides or {})
    if p is None:
        reason = "no labeled task (domain.task is null): nothing to fine-tune"
        write_json(out / "skipped.json", {"stage": "finetune", "reason": reason})
        return {"skipped": True, "reason": reason}
    results: dict[matrix.Unit, RunResult] = {}
    for u in p.units if staged_dir is not None else []:
        result = units.staged(u.folder(staged_dir), p.keys[u])
        if result is not None:
            units.link_tree(u.folder(staged_dir), u.folder(out))
            (u.folder(out) / units.KEY).unlink()
            results[u] = result
            on_run(u, result)
    if results:
        print(f"[finetune] {len(results)} of {len(p.units)} runs taken from {staged_dir}")
    pending = [u for u in p.units if u not in results]
    splits = (p.task.train, p.task.dev, p.task.test)
    results |= matrix.run(
        pending, p.folders, p.task.labels, splits, p.ft, out, ev.workers, on_run, keep_best=False
    )
    matrix.prune(results, out)
    write_json(out / "skipped.json", p.skipped)
    settings = {
        "max_len": p.ft.max_len,
        "candidates": p.folders,
        "seeds": ev.seeds,
        "extra_strategies": {s: c for s, c in ev.extra.items() if s not in ev.strategies},
        "label_budgets": sorted(set(ev.budgets)),
        "budget_strategy": ev.budget_strategy,
        "labels": p.task.labels,
        "rows": {"train": len(p.task.train), "dev": len(p.task.dev), "test": len(p.task.test)},
        # what a full-data run trains on (finetune.max_train_rows): the curve's "all" point
        "train_rows_used": min(len(p.task.train), p.ft.max_train_rows or len(p.task.train)),
    }
    write_json(out / "plan.json", settings)
    return {
        "runs": len(results),
        "max_len": p.ft.max_len,
        "seconds": round(sum(r.seconds for r in results.values()), 1),
        "skipped_candidates": p.skipped,
    }


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    ft = load_section("finetune", args.params)
    ev = load_section("evaluate", args.params)
    overrides = dict(c.split("=", 1) for c in args.candidate if "=" in c)
    spec = MatrixSpec(
        list(overrides) or ev.candidates, args.strategy or ev.strategies, args.seeds or ev.seeds,
        ev.workers, [] if overrides else ev.pet.backbones, ev.pet.shots,
        next(iter(overrides), ev.baseline), {} if overrides else ev.extra_strategies,
        [] if overrides else ev.label_budgets, ev.budget_strategy,
    )  # fmt: skip
    files = [str(Path(args.task) / f) for f in ("train.jsonl", "dev.jsonl", "test.jsonl")]
    if domain.task is not None:
        check_inputs(args, [*files, str(Path(args.task) / "labels.txt")], require_validated)
    staged_dir = units.staging(args.out)
    if args.plan or args.unit:
        prepared = prepare(domain, ft, spec, args.task, overrides)
        if args.unit:
            run_units(prepared, args.unit, spec, staged_dir)
            return 0
        plan = {"stage": "finetune", "staging": str(staged_dir)}
        write_json(args.plan, plan | {"units": plan_units(prepared, staged_dir)})
        return 0
    with (
        stage_tracking("finetune", ft, args, files) as t,
        OutputSet() as outs,  # the runs and their metrics change together
    ):
        metrics = run_stage(
            domain, ft, spec, args.task, outs.dir(args.out), overrides, _child_runs(t), staged_dir
        )
        t.metrics(metrics)
        write_json(outs.file(args.metrics), metrics)
    shutil.rmtree(staged_dir, ignore_errors=True)  # gathered: the output holds every unit now
    if metrics.get("skipped"):
        print(f"[finetune] skipped: {metrics['reason']}")
    return 0


def _child_runs(tracker):
    """One nested MLflow run per fine-tuning run (params, dev/test scores, dev curve)."""
    if not tracker.enabled:
        return lambda unit, result: None
    import mlflow

    def log(unit, result) -> None:
        with mlflow.start_run(run_name=f"{unit.combo}/seed{unit.seed}", nested=True):
            mlflow.set_tags({"stage": "finetune", "candidate": unit.candidate, "strategy": unit.strategy})  # fmt: skip
            mlflow.log_params({"seed": unit.seed, "shots": unit.shots, "label_budget": unit.budget, "best_step": result.best_step})  # fmt: skip
            summary = dataclasses.asdict(result)
            keys = ("macro_f1", "accuracy", "dev_macro_f1", "dev_accuracy", "seconds")
            mlflow.log_metrics({k: summary[k] for k in keys})
            for h in result.history:
                mlflow.log_metrics({"dev_macro_f1_curve": h["dev_macro_f1"], "train_loss": h["loss"]}, step=int(h["step"]))  # fmt: skip

    return log
