"""Is the shipped base model past the point where more general training still helps?

Continues each given base checkpoint with the demo's compute-matched `control` recipe (the `dapt`
stage's parameters, replay off, one thread each, in parallel): N more steps on the base's own
general training text, then reports the change in held-out general perplexity. The held-out split
is the same content-hash split the base was trained with (``eval_fraction`` 0.02 in both), so the
evaluation text was never trained on. A base that gains little here is one whose DAPT gains come
from the domain text, not from extra training time. Baseline: the previously shipped base.

    .venv/bin/python benchmarks/build_general_corpus.py --out build/general_corpus.jsonl
    .venv/bin/python benchmarks/base_plateau.py --corpus build/general_corpus.jsonl \\
        --base build/base-zh-tiny-v1 --base models/base-zh-tiny
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from cli_runs import ROOT, dapt, run_parallel


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", action="append", required=True, help="checkpoint (repeatable)")
    ap.add_argument("--corpus", default="build/general_corpus.jsonl", help="the base's corpus")
    ap.add_argument("--general", default="data/ingested/general.jsonl", help="demo general text")
    ap.add_argument("--work", type=Path, default=Path("build/base_plateau"))
    ap.add_argument("--max-steps", type=int, help="default: the dapt stage's (compute-matched)")
    ap.add_argument("--max-docs", type=int, default=0, help="first N documents (0 = all)")
    ap.add_argument(
        "--jieba", action=argparse.BooleanOptionalAction, default=None,
        help="whole-word masking with jieba segmentation (default: the dapt stage's setting); "
        "the shipped base was trained with it",
    )  # fmt: skip
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["profile"] = "demo"
    stage = params["pretrain"]["dapt"]
    stage.update(replay_fraction=0.0, threads=1, eval_fraction=0.02, max_docs=args.max_docs)
    if args.jieba is not None:
        stage["jieba_fallback"] = args.jieba
    pfile = args.work / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    names, jobs = [], []
    for i, base in enumerate(args.base):
        name = f"{i}_{Path(base).name}"
        cmd = dapt("pretrain", "--stage", "dapt", "--params", str(pfile), "--model", base)
        cmd += ["--corpus", args.corpus, "--general-corpus", args.general]
        cmd += [
            "--out",
            str(args.work / name),
            "--no-resume",
            "--no-mlflow",
            "--no-validated-check",
        ]
        if args.max_steps:
            cmd += ["--max-steps", str(args.max_steps)]
        names.append(name)
        jobs.append((cmd, args.work / f"{name}.log", None))
    codes = dict(run_parallel(jobs, len(jobs)))
    rows = {}
    for i, (name, base) in enumerate(zip(names, args.base, strict=True)):
        if codes[i] != 0:
            print(f"{base} failed, see {args.work / (name + '.log')}")
            return 1
        m = json.loads((args.work / name / "metrics.json").read_text(encoding="utf-8"))
        rows[base] = m
        print(
            f"{base:32s} {m['steps']} more steps: held-out general ppl "
            f"{m['eval_perplexity_before']:.1f} -> {m['eval_perplexity']:.1f} "
            f"({m['eval_perplexity_change']:+.1%}); demo general (CLUE) ppl "
            f"{m['general_eval_perplexity_before']:.1f} -> {m['general_eval_perplexity']:.1f} "
            f"({m['general_eval_perplexity_change']:+.1%})"
        )
    if len(rows) > 1:  # a change near 0 or above it: more general training no longer helps
        first, last = (rows[b]["eval_perplexity_change"] for b in (args.base[0], args.base[-1]))
        print(
            f"held-out change, {args.base[-1]} vs baseline {args.base[0]}: {last:+.1%} vs {first:+.1%}"
        )
    (args.work / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
