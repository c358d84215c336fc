"""``dapt compare``: tables and plots of the fine-tuning runs, held-out perplexity of every
candidate, and the combination to register, chosen on dev (``--out-dir``/choice.json)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default="models/finetune", help="the finetune stage's output")
    p.add_argument("--task", default="data/ingested/task")
    p.add_argument("--shape", default="data/ingested/shape.json")
    p.add_argument("--domain-text", action="append", default=[], help="held-out domain text")
    p.add_argument("--general-text", action="append", default=[], help="held-out general text")
    p.add_argument("--lexicon", help="whole-word units for the perplexity masks (zh)")
    p.add_argument("--report", default="reports/evaluation.md")
    p.add_argument("--out-dir", default="reports/evaluation")
    p.add_argument("--plot", default="plots/evaluate_confusion.png")
    p.add_argument("--metrics", default="metrics/evaluate.json")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-mlflow", action="store_true")


def run(args: argparse.Namespace) -> int:
    from components.compare.stage import run as run_stage

    return run_stage(args)
