"""``dapt vocab-only``: the vocabulary-only candidate (Sachidananda et al. 2021's adaptive
tokenization without continued pretraining): the base model with the extended tokenizer and its
mean-of-pieces embeddings, exactly the model DAPT starts from, as a candidate of its own.

    dapt vocab-only --extended models/extended --out models/vocab_only [--metrics FILE]

It copies ``--extended`` (the tokenizer stage's output), so it is bit-for-bit the starting point
of DAPT and TAPT; a gain of theirs over it is the continued pretraining's own. Without new words
(the lexicon added none, or the extension was skipped) it is the base model again and is skipped
(SKIPPED.json) rather than compared twice.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

STAGE = "vocab_only"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extended", required=True, help="the tokenizer stage's model folder")
    p.add_argument("--out", required=True, help="output folder (replaced atomically)")
    p.add_argument("--metrics", help="metrics JSON path")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def added_words(folder: Path) -> int:
    path = folder / "added_words.tsv"
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(1 for line in lines[1:] if line.strip())


def skip_reason(extended: Path) -> str | None:
    from components.data.skip import skipped_reason

    upstream = skipped_reason(extended)
    if upstream:
        return f"the extended model {extended} was skipped: {upstream}"
    if not added_words(extended):
        return f"no new words were added to the vocabulary ({extended}/added_words.tsv is empty)"
    return None


def run(args: argparse.Namespace) -> int:
    from components.config import active_profile, load_section, read_params_file
    from components.data.outputs import OutputSet
    from components.data.skip import mark_skipped
    from components.data.writers import write_json

    extended, out = Path(args.extended), Path(args.out)
    reason = skip_reason(extended)
    report = {"skipped": True, "reason": reason} if reason else {}
    with OutputSet() as outs:  # the model folder and its metrics change together
        tmp = outs.dir(out)
        if reason:
            mark_skipped(tmp, STAGE, reason)
        else:
            for f in sorted(extended.iterdir()):
                if f.is_file():
                    shutil.copy2(f, tmp / f.name)
            report = {"added_words": added_words(extended), "pretrain_steps": 0}
            write_json(tmp / "metrics.json", report)
        if args.metrics:
            write_json(outs.file(args.metrics), report)
    print(f"[vocab_only] {'skipped, ' + reason if reason else report} -> {out}")
    if not args.no_mlflow and not reason:
        import mlflow

        from components.tracking import stage_run

        params = load_section("tokenizer", args.params)
        profile = active_profile(read_params_file(args.params))
        with stage_run(STAGE, params, inputs=[str(extended)], profile=profile):
            mlflow.log_metrics(report)
    return 0
