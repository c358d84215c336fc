"""Held-out perplexity of every checkpoint of a running ``dapt pretrain``: the curve that says when
general pretraining on a small corpus stops helping (or starts over-fitting).

The trainer measures held-out perplexity only before and after a run. This script polls the run's
checkpoint folder (``OUT.checkpoints``; give the run a ``keep_checkpoints`` of 3+ so a checkpoint
survives until it is read) and evaluates each new ``step-*.pt`` exactly as the trainer does: the
same ``eval_fraction`` split, blocks, fixed masks and ``perplexity`` function. It also scores the
same number of *training* blocks, so the gap (train-eval) shows memorisation. One thread; it stops
when the checkpoint of ``max_steps`` has been read (or after ``--idle`` seconds without one).

    nice -n 10 .venv/bin/python benchmarks/heldout_watch.py --params build/params-en.yaml \\
        --stage general --corpus build/wikitext2.txt --model build/en-init \\
        --ckpt build/base-en-v1.checkpoints --out build/base-en-v1.heldout.tsv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--stage", default="general")
    ap.add_argument("--corpus", action="append", required=True)
    ap.add_argument("--model", required=True, help="the run's --model (for the tokenizer)")
    ap.add_argument("--ckpt", type=Path, required=True, help="the run's checkpoint folder")
    ap.add_argument("--out", type=Path, required=True, help="TSV: step, eval and train perplexity")
    ap.add_argument("--max-steps", type=int, help="the run's --max-steps, if overridden")
    ap.add_argument("--poll", type=float, default=10.0)
    ap.add_argument("--idle", type=float, default=900.0)
    args = ap.parse_args()

    import dataclasses

    import torch

    from components.config import load_section
    from components.modeling.backbone import load_masked_lm
    from components.pretrain.data import Blocks
    from components.pretrain.model import SparseMLM
    from components.pretrain.stage import build_corpora
    from components.pretrain.trainer import _Masker, perplexity

    torch.set_num_threads(1)
    p = getattr(load_section("pretrain", args.params), args.stage)
    if args.max_steps:
        p = dataclasses.replace(p, max_steps=args.max_steps)
    model, tok = load_masked_lm(args.model)
    run_args = argparse.Namespace(
        corpus=args.corpus, mined_corpus=[], eval_corpus=[], general_corpus=[], lexicon=[]
    )
    corpora = build_corpora(run_args, p, tok)
    n = min(len(corpora.eval), p.eval_max_blocks)
    train_sample = Blocks(corpora.train.ids[:n], corpora.train.starts[:n])
    obj, masker = SparseMLM(model), _Masker(tok, p)
    print(f"[watch] {n} held-out blocks, {len(corpora.train)} train blocks", flush=True)

    seen: set[str] = set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.out.exists():
        args.out.write_text("step\teval_perplexity\ttrain_perplexity\n", encoding="utf-8")
    last = time.monotonic()
    while time.monotonic() - last < args.idle:
        for path in sorted(args.ckpt.glob("step-*.pt")):
            if path.name in seen:
                continue
            try:
                state = torch.load(path, map_location="cpu", weights_only=False)
            except (OSError, RuntimeError, EOFError):
                continue  # pruned or half-renamed: the next one will do
            seen.add(path.name)
            last = time.monotonic()
            model.load_state_dict(state["model"])
            ev = perplexity(obj, corpora.eval, masker, p, "cpu")
            tr = perplexity(obj, train_sample, masker, p, "cpu")
            with open(args.out, "a", encoding="utf-8") as f:
                f.write(f"{state['step']}\t{ev:.3f}\t{tr:.3f}\n")
            print(f"[watch] step {state['step']}: eval {ev:.2f}  train {tr:.2f}", flush=True)
            if state["step"] >= p.max_steps:
                return 0
        time.sleep(args.poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())
