"""``dapt ingest``: read the domain's raw inputs (params ``domain``) into the canonical layout.

The layout (components/ingest/core.py) is swapped in atomically: a failed run leaves the last
good one.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--out", default="data/ingested", help="output folder")
    p.add_argument("--metrics", default="metrics/ingest.json")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def run(args: argparse.Namespace) -> int:
    from components.ingest.stage import run as run_stage

    return run_stage(args)
