"""``dapt register``: gate the choice of ``compare`` on the test set (paired intervals), copy
the chosen model to ``--out`` and register it in MLflow with its lineage and alias."""

from __future__ import annotations

import argparse

from components.stagerun import registry_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default="models/finetune")
    p.add_argument("--evaluation", default="reports/evaluation", help="compare's output folder")
    p.add_argument("--task", default="data/ingested/task")
    p.add_argument("--decontamination", default="metrics/decontaminate.json")
    p.add_argument(
        "--pretrain-metrics", default="metrics", help="the pretrain stages' metrics (costs)"
    )
    p.add_argument("--out", default="models/classifier", help="the chosen model (replaced)")
    p.add_argument("--gate", default="reports/gate.json", help="the decision, as JSON")
    registry_arguments(p, "register", no_mlflow="decide, but register nothing")


def run(args: argparse.Namespace) -> int:
    from components.register.stage import run as run_stage

    return run_stage(args)
