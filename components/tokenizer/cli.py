"""``dapt tokenizer``: train a character-level WordPiece tokenizer, or extend a model's vocabulary.

dapt tokenizer train  --corpus data/ingested/general.jsonl --out build/general-init
    -> tokenizer files + config.json (a "initialise from this config" model folder)
dapt tokenizer extend --base models/base-zh-tiny --lexicon data/lexicon/lexicon.tsv --out DIR
    -> save_pretrained model + tokenizer with the top-K words added, added_words.tsv
"""

from __future__ import annotations

import argparse

from components.data.gate import add_validated_switch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["train", "extend"])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--corpus", action="append", default=[], help="training text (train)")
    p.add_argument("--base", help="checkpoint folder or hub id (extend); default domain.base_model")
    p.add_argument("--lexicon", help="word list / lexicon TSV, first column the word (extend)")
    p.add_argument("--top-k", type=int, help="override tokenizer.top_k")
    p.add_argument("--out", required=True, help="output folder (replaced atomically)")
    p.add_argument("--metrics", help="metrics JSON path")
    add_validated_switch(p)
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def run(args: argparse.Namespace) -> int:
    from components.tokenizer.stage import run as run_stage

    return run_stage(args)
