"""``dapt mine``: select in-domain documents from a general pool, with a per-document audit.

Outputs in ``--out`` (swapped in atomically: a failed run leaves the last good one)::

    selected.jsonl   the selected pool documents (pool ids kept, score in metadata.mine_score)
    scores.jsonl     one row per pool document: {"id", "score", "kept", "reason"}
"""

from __future__ import annotations

import argparse

from components.data.gate import add_validated_switch
from components.mine.params import METHODS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", nargs="+", required=True, help="domain (seed) corpus file(s)")
    p.add_argument("--pool", nargs="+", required=True, help="general pool file(s) to mine")
    p.add_argument("--out", default="data/mined", help="output folder")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--top-n", type=int, help="keep the N best clean documents")
    budget.add_argument("--fraction", type=float, help="keep this share of the clean documents")
    budget.add_argument("--threshold", type=float, help="keep clean documents scoring >= T")
    p.add_argument("--method", choices=METHODS, help="override mine.method")
    p.add_argument("--lang", choices=["zh", "en"], help="default: domain.lang of params.yaml")
    p.add_argument("--workers", type=int, help="override mine.workers (0 = all cores)")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--metrics", default="metrics/mine.json")
    p.add_argument("--plot", default="plots/mine_scores.png", help="score histogram (PNG)")
    add_validated_switch(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def run(args: argparse.Namespace) -> int:
    from components.mine.stage import run as run_stage

    return run_stage(args)
