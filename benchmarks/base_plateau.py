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
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


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
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["profile"] = "demo"
    dapt = params["pretrain"]["dapt"]
    dapt.update(replay_fraction=0.0, threads=1, eval_fraction=0.02, max_docs=args.max_docs)
    if args.jieba is not None:
        dapt["jieba_fallback"] = args.jieba
    pfile = args.work / "params.yaml"
    pfile.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    procs = {}
    for i, base in enumerate(args.base):
        name = f"{i}_{Path(base).name}"
        cmd = [sys.executable, "-m", "components.cli", "pretrain", "--stage", "dapt"]
        cmd += ["--params", str(pfile), "--model", base, "--corpus", args.corpus]
        cmd += ["--general-corpus", args.general, "--out", str(args.work / name)]
        cmd += ["--no-resume", "--no-mlflow", "--no-validated-check"]
        if args.max_steps:
            cmd += ["--max-steps", str(args.max_steps)]
        log = open(args.work / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        procs[name] = (base, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log))
    rows = {}
    for name, (base, proc) in procs.items():
        if proc.wait() != 0:
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
