"""``dapt decontaminate``: remove the task's dev/test texts from every pretraining text.

Reads the ingest layout (``--ingested``) and the mined documents; writes ``--out`` (swapped in
atomically): ``{domain,mined,general,tapt}.jsonl``, ``audit.jsonl`` (one row per match: which
dev/test text, where, what was removed and why) and ``manifest.json`` (the files pretraining may
read, with their MD5).
"""

from __future__ import annotations

import argparse

from components.data.gate import add_validated_switch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ingested", default="data/ingested", help="the ingest stage's layout")
    p.add_argument("--mined", default="data/mined/selected.jsonl", help="mined documents")
    p.add_argument("--out", default="data/decontaminated")
    p.add_argument("--metrics", default="metrics/decontaminate.json")
    p.add_argument("--params", default="params.yaml")
    add_validated_switch(p)
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def run(args: argparse.Namespace) -> int:
    from components.decontaminate.stage import run as run_stage

    return run_stage(args)
