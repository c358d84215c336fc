"""``dapt finetune``: every candidate x strategy x seed of params ``evaluate`` into ``--out``.

dapt finetune --out models/finetune                       the DVC stage
dapt finetune --candidate mine=path/to/mlm --strategy lora --seeds 1 --out /tmp/ft   ad hoc
dapt finetune --out models/finetune --plan plan.json      list the units (fan-out, JSON)
dapt finetune --out models/finetune --unit base/full/seed0   run units into models/finetune.units

The stage (no --plan/--unit) takes the units already staged with its own key and runs the rest
(components/finetune/units.py).
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
    fan = p.add_mutually_exclusive_group()
    fan.add_argument("--plan", metavar="FILE", help="write the units as JSON and run nothing")
    fan.add_argument("--unit", action="append", metavar="ID",
                     help="run this unit into <out>.units/ (repeatable; ids from --plan)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from components.finetune.stage import run as run_stage

    return run_stage(args)
