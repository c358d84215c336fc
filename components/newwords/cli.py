"""``dapt newwords``: discover domain terms and write ``DIR/lexicon.tsv`` + ``DIR/metrics.json``.

dapt newwords --corpus FILE [FILE ...] [--background FILE] [--exclude-vocab FILE]
              [--reference FILE] --out DIR [--top-k N] [--lang zh|en] [--plot PNG]
"""

from __future__ import annotations

import argparse

from components.data.gate import add_validated_switch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", nargs="+", action="extend", required=True, metavar="FILE",
                   help="domain text (.jsonl/.txt/.tsv/.csv); repeat or list several")  # fmt: skip
    p.add_argument("--background", nargs="+", action="extend", default=[], metavar="FILE",
                   help="general text for the domain score (log-odds)")  # fmt: skip
    p.add_argument("--exclude-vocab", nargs="+", action="extend", default=[], metavar="FILE",
                   help="words to drop: a word list, a TSV (first column), a vocab.txt or tokenizer.json")  # fmt: skip
    p.add_argument("--reference", metavar="FILE", help="reference lexicon for precision/recall")
    p.add_argument("--out", required=True, help="output folder (lexicon.tsv, metrics.json)")
    p.add_argument("--top-k", type=int, help="rows in lexicon.tsv (default: newwords.top_k)")
    p.add_argument("--lang", choices=["zh", "en"], help="default: newwords.lang")
    p.add_argument("--plot", help="PNG with the top words and the score distribution")
    p.add_argument("--workers", type=int, help="counting processes (default: newwords.workers)")
    p.add_argument("--max-entries", type=int, help="count-table row cap (newwords.max_entries)")
    p.add_argument("--params", default="params.yaml")
    add_validated_switch(p)
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def run(args: argparse.Namespace) -> int:
    from components.newwords.stage import run as run_stage

    return run_stage(args)
