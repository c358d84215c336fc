"""``dapt finetune``: every candidate x strategy x seed of params ``evaluate`` into ``--out``.

dapt finetune --out models/finetune                       the DVC stage
dapt finetune --candidate mine=path/to/mlm --strategy lora --seeds 1 --out /tmp/ft   ad hoc
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from components.config import active_profile, load_section, read_params_file
from components.data.gate import require_validated
from components.data.outputs import OutputSet
from components.data.writers import write_json
from components.finetune.stage import MatrixSpec, run_stage
from components.tracking import tracked


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="models/finetune", help="one folder per run (replaced)")
    p.add_argument("--metrics", default="metrics/finetune.json")
    p.add_argument("--task", default="data/ingested/task", help="train/dev/test.jsonl, labels.txt")
    p.add_argument("--candidate", action="append", default=[], metavar="NAME=DIR",
                   help="run only these backbones (repeatable)")  # fmt: skip
    p.add_argument("--strategy", action="append", help="only these strategies (repeatable)")
    p.add_argument("--seeds", type=int, help="override evaluate.seeds")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-validated-check", action="store_true", help="skip the validation gate")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    ft = load_section("finetune", args.params)
    ev = load_section("evaluate", args.params)
    overrides = dict(c.split("=", 1) for c in args.candidate if "=" in c)
    spec = MatrixSpec(
        list(overrides) or ev.candidates, args.strategy or ev.strategies, args.seeds or ev.seeds,
        ev.workers, [] if overrides else ev.pet.backbones, ev.pet.shots,
        next(iter(overrides), ev.baseline), {} if overrides else ev.extra_strategies,
    )  # fmt: skip
    files = [str(Path(args.task) / f) for f in ("train.jsonl", "dev.jsonl", "test.jsonl")]
    if not args.no_validated_check and domain.task is not None:
        require_validated([*files, str(Path(args.task) / "labels.txt")])
    profile = active_profile(read_params_file(args.params))
    with (
        tracked("finetune", ft, inputs=files, profile=profile, enabled=not args.no_mlflow) as t,
        OutputSet() as outs,  # the runs and their metrics change together
    ):
        metrics = run_stage(
            domain, ft, spec, args.task, outs.dir(args.out), overrides, _child_runs(t)
        )
        t.metrics(metrics)
        write_json(outs.file(args.metrics), metrics)
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
            mlflow.log_params({"seed": unit.seed, "shots": unit.shots, "best_step": result.best_step})  # fmt: skip
            summary = dataclasses.asdict(result)
            keys = ("macro_f1", "accuracy", "dev_macro_f1", "dev_accuracy", "seconds")
            mlflow.log_metrics({k: summary[k] for k in keys})
            for h in result.history:
                mlflow.log_metrics({"dev_macro_f1_curve": h["dev_macro_f1"], "train_loss": h["loss"]}, step=int(h["step"]))  # fmt: skip

    return log
