"""``dapt finetune``: one backbone, one strategy, one seed (``dapt evaluate`` runs the matrix).

dapt finetune --backbone models/dapt --strategy lora --seed 0 --out models/ft-lora
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from components.config import active_profile, load_section, read_params_file
from components.finetune.params import STRATEGIES, FinetuneParams

TASK = "data/ingested/task"


def add_task_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train", default=f"{TASK}/train.jsonl")
    p.add_argument("--dev", default=f"{TASK}/dev.jsonl")
    p.add_argument("--test", default=f"{TASK}/test.jsonl")
    p.add_argument("--labels", default=f"{TASK}/labels.txt")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-validated-check", action="store_true", help="skip the validation gate")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", required=True, help="save_pretrained masked-LM folder")
    p.add_argument("--strategy", choices=STRATEGIES, default="full")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shots", type=int, help="pet: examples per class (0 = zero-shot)")
    p.add_argument("--out", help="save the best checkpoint here")
    add_task_arguments(p)


def load_task(args: argparse.Namespace):
    from components.data import require_validated
    from components.finetune.data import read_labels, read_split

    files = [args.train, args.dev, args.test, args.labels]
    if not args.no_validated_check:
        require_validated(files)
    labels = read_labels(args.labels)
    return labels, *(read_split(f, labels) for f in files[:3])


def run(args: argparse.Namespace) -> int:
    from components.finetune.core import finetune

    p: FinetuneParams = load_section("finetune", args.params)
    labels, train, dev, test = load_task(args)
    result = finetune(
        args.backbone, args.strategy, labels, train, dev, test, p, args.seed, args.out, args.shots
    )
    summary = {k: v for k, v in dataclasses.asdict(result).items() if k != "predictions"}
    print(json.dumps(summary, indent=2))
    if not args.no_mlflow:
        import mlflow

        from components.tracking import stage_run

        profile = active_profile(read_params_file(args.params))
        with stage_run("finetune", p, inputs=[args.train, args.dev, args.test], profile=profile):
            mlflow.log_params(
                {"backbone": args.backbone, "strategy": args.strategy, "seed": args.seed}
            )
            mlflow.log_metrics({"test_accuracy": result.accuracy, "test_macro_f1": result.macro_f1})
    return 0
