"""Demo-profile DAPT: domain perplexity gain and general-text forgetting, with and without replay.

Starts from the shipped general base model, extends its vocabulary with the discovered words
(when data/lexicon/lexicon.tsv exists), then runs the ``dapt`` stage's demo parameters twice in
parallel (one thread each): replay as configured, and replay 0. Perplexities are masked-LM
perplexities on held-out domain text and held-out general text, before and after.

    .venv/bin/python benchmarks/dapt_forgetting.py --work build/dapt_forgetting
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from cli_runs import ENV, ROOT, dapt, run_parallel


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="models/base-zh-tiny")
    ap.add_argument("--work", type=Path, default=Path("build/dapt_forgetting"))
    ap.add_argument("--domain", default="data/ingested/domain.jsonl")
    ap.add_argument("--general", default="data/ingested/general.jsonl")
    ap.add_argument("--lexicon", default="data/lexicon/lexicon.tsv")
    ap.add_argument("--wwm-lexicon", default="data/ingested/lexicons/medical.txt")
    ap.add_argument("--max-steps", type=int)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    model = args.base
    lexicons = [args.wwm_lexicon]
    if Path(args.lexicon).exists():
        model = str(args.work / "extended")
        ext = dapt("tokenizer", "extend", "--base", args.base, "--lexicon", args.lexicon)
        subprocess.run(
            [*ext, "--out", model, "--no-mlflow", "--no-validated-check"],
            check=True,
            cwd=ROOT,
            env=ENV,
        )
        lexicons.append(args.lexicon)

    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["profile"] = "demo"
    replay = params["pretrain"]["dapt"].get("replay_fraction", 0.0)
    runs, jobs = [], []
    for name, frac in (("replay", replay), ("no_replay", 0.0)):
        p = json.loads(json.dumps(params))
        p["pretrain"]["dapt"]["replay_fraction"] = frac
        p["pretrain"]["dapt"]["threads"] = 1
        pfile = args.work / f"params_{name}.yaml"
        pfile.write_text(yaml.safe_dump(p, allow_unicode=True), encoding="utf-8")
        cmd = dapt("pretrain", "--stage", "dapt", "--params", str(pfile), "--model", model)
        cmd += ["--corpus", args.domain, "--general-corpus", args.general, "--no-resume"]
        cmd += ["--out", str(args.work / name), "--no-mlflow", "--no-validated-check"]
        cmd += [x for lex in lexicons for x in ("--lexicon", lex)]
        if args.max_steps:
            cmd += ["--max-steps", str(args.max_steps)]
        runs.append((name, frac))
        jobs.append((cmd, args.work / f"{name}.log", None))
    codes = dict(run_parallel(jobs, len(jobs)))
    rows = {}
    for i, (name, frac) in enumerate(runs):
        if codes[i] != 0:
            print(f"{name} failed, see {args.work / (name + '.log')}")
            return 1
        m = json.loads((args.work / name / "metrics.json").read_text())
        rows[name] = m
        print(
            f"{name:9s} replay={frac:.2f}  medical ppl {m['eval_perplexity_before']:.1f} -> "
            f"{m['eval_perplexity']:.1f} ({m['eval_perplexity_change']:+.1%})  general ppl "
            f"{m['general_eval_perplexity_before']:.1f} -> {m['general_eval_perplexity']:.1f} "
            f"({m['general_eval_perplexity_change']:+.1%})  {m['train_tokens_per_second']:.0f} tok/s"
        )
    (args.work / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
