"""``dapt distill``: distil the classifier the gate left into a shallower student, gate the
student against its teacher on test, register it as ``<classifier>-small`` (docs/distill.md)."""

from __future__ import annotations

import argparse

from components.stagerun import registry_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gate", default="reports/gate.json", help="register's decision")
    p.add_argument("--classifier", default="models/classifier", help="register's chosen model")
    p.add_argument("--task", default="data/ingested/task")
    p.add_argument("--unlabeled", nargs="*", default=[], help="JSONL texts for soft targets only")
    p.add_argument("--out", default="models/student", help="the student (replaced)")
    p.add_argument("--report", default="reports/distill.json", help="teacher vs student, as JSON")
    registry_arguments(p, "distill", no_mlflow="distil and gate, register nothing")


def run(args: argparse.Namespace) -> int:
    from components.distill.stage import run as run_stage

    return run_stage(args)
