"""``dapt finetune``: every candidate x strategy x seed of params ``evaluate`` into ``--out``.

dapt finetune --out models/finetune                       the DVC stage
dapt finetune --candidate mine=path/to/mlm --strategy lora --seeds 1 --out /tmp/ft   ad hoc
"""

from __future__ import annotations

import argparse

from components.data.gate import add_validated_switch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="models/finetune", help="one folder per run (replaced)")
    p.add_argument("--metrics", default="metrics/finetune.json")
    p.add_argument("--task", default="data/ingested/task", help="train/dev/test.jsonl, labels.txt")
    p.add_argument("--candidate", action="append", default=[], metavar="NAME=DIR",
                   help="run only these backbones (repeatable)")  # fmt: skip
    p.add_argument("--strategy", action="append", help="only these strategies (repeatable)")
    p.add_argument("--seeds", type=int, help="override evaluate.seeds")
    p.add_argument("--params", default="params.yaml")
    add_validated_switch(p)
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def run(args: argparse.Namespace) -> int:
    from components.finetune.stage import run as run_stage

    return run_stage(args)
