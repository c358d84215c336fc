"""``dapt ingest``: read every configured source and write the canonical JSONL layout.

Layout of ``--out`` (swapped in atomically, so a failed run leaves the last good one)::

    general.jsonl  domain.jsonl  task/{train,dev,test}.jsonl  task/labels.txt  lexicons/<name>.txt
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from components.config import active_profile, load_section, read_params_file
from components.data.writers import atomic_dir, write_json, write_jsonl
from components.ingest.core import clean, corpus_docs, lexicon_words, open_source, read_label_set
from components.ingest.params import IngestParams


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--out", default="data/ingested", help="output folder")
    p.add_argument("--metrics", default="metrics/ingest.json")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def ingest(params: IngestParams, out: Path) -> dict:
    """Write the layout into ``out`` (an empty folder); returns per-output counters."""
    report: dict[str, dict] = {}
    for role, specs in (("general", params.general), ("domain", params.domain)):
        counters: Counter = Counter()
        docs = tqdm(
            corpus_docs(specs, params, counters), desc=f"ingest {role}", unit="doc", mininterval=2
        )
        write_jsonl(out / f"{role}.jsonl", docs)
        report[role] = dict(counters)

    task_dir = out / "task"
    train_hashes: set[int] = set()
    splits = [("train", params.task.train), ("dev", params.task.dev), ("test", params.task.test)]
    labels_seen: set[str] = set()
    for split, spec in splits:
        if spec is None:
            continue
        counters = Counter()
        seen: set[int] | None = train_hashes if split == "train" else set()
        if not params.dedup and split != "train":
            seen = None
        forbidden = train_hashes if (split != "train" and params.drop_leaked) else None
        docs = list(
            clean(open_source(spec, labeled=True), params, counters, seen=seen, forbidden=forbidden)
        )
        labels_seen.update(d.label for d in docs if d.label)
        write_jsonl(task_dir / f"{split}.jsonl", docs)
        report[f"task_{split}"] = dict(counters)

    labels = read_label_set(params.task.label_set) if params.task.label_set else sorted(labels_seen)
    (task_dir / "labels.txt").write_text("".join(f"{x}\n" for x in labels), encoding="utf-8")
    for name, path in params.lexicons.items():
        words = list(lexicon_words(path))
        (out / "lexicons").mkdir(exist_ok=True)
        (out / "lexicons" / f"{name}.txt").write_text(
            "".join(f"{w}\n" for w in words), encoding="utf-8"
        )
        report[f"lexicon_{name}"] = {"kept": len(words)}
    return report


def run(args: argparse.Namespace) -> int:
    params: IngestParams = load_section("ingest", args.params)
    profile = active_profile(read_params_file(args.params))
    sources = [s.path for s in (*params.general, *params.domain)]
    sources += [s.path for s in (params.task.train, params.task.dev, params.task.test) if s]
    start = time.perf_counter()
    with atomic_dir(args.out) as tmp:
        report = ingest(params, tmp)
    metrics = {"seconds": round(time.perf_counter() - start, 3), "outputs": report}
    write_json(args.metrics, metrics)
    for name, c in report.items():
        dropped = {k: v for k, v in c.items() if k.startswith("dropped")}
        print(f"[ingest] {name}: kept {c.get('kept', 0)}" + (f", {dropped}" if dropped else ""))
    if not args.no_mlflow:
        from components.tracking import stage_run

        with stage_run("ingest", params, inputs=sources, profile=profile):
            import mlflow

            mlflow.log_metrics({f"{k}.{m}": v for k, c in report.items() for m, v in c.items()})
            mlflow.log_artifact(args.metrics)
    return 0
