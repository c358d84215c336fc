"""Fine-tuning recipes side by side: backbones x recipes x seeds, macro-F1 mean ± std.

Each recipe is the demo's ``finetune`` section with overrides (``KEY=VALUE``, dotted keys for
nested ones, values parsed as YAML). Every run is ``dapt finetune`` in its own process with one
torch thread, ``--workers`` at a time; results land in ``WORK/<recipe>/<backbone>-<strategy>-<seed>.json``
and a run whose file exists is not repeated (relaunching resumes). The first recipe is the
baseline; the table gives each recipe's mean macro-F1 and its ratio to the baseline's.

    .venv/bin/python benchmarks/finetune_recipes.py --work build/ft_recipes \\
        --recipe "cls: pooling=cls" --recipe "mean: pooling=mean" \\
        --backbone models/base-zh-tiny --backbone models/control --backbone models/dapt

Needs the demo task and backbones (``make run``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import yaml
from cli_runs import ROOT, dapt, run_parallel


def recipe_params(spec: str, work: Path) -> tuple[str, Path]:
    """``"name: k=v k2.sub=v"`` -> (name, params file with the overrides applied)."""
    name, _, body = spec.partition(":")
    name = name.strip()
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["profile"] = "demo"
    section = params["finetune"]
    section["threads"] = 1
    for item in body.split():
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        target = section
        for k in parents:
            target = target.setdefault(k, {})
        target[leaf] = yaml.safe_load(value)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return name, path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", action="append", required=True, help='"name: key=value ..."')
    ap.add_argument("--backbone", action="append", required=True)
    ap.add_argument("--strategy", default="full")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--work", type=Path, default=Path("build/ft_recipes"))
    args = ap.parse_args()
    recipes = [recipe_params(spec, args.work) for spec in args.recipe]
    jobs, results = [], {}
    for name, pfile in recipes:
        for backbone in args.backbone:
            for seed in range(args.seeds):
                out = args.work / name / f"{Path(backbone).name}-{args.strategy}-{seed}.json"
                results.setdefault((name, backbone), []).append(out)
                if not out.exists():  # `dapt finetune` prints the result as JSON on stdout
                    cmd = dapt("finetune", "--params", str(pfile), "--backbone", backbone)
                    cmd += ["--strategy", args.strategy, "--seed", str(seed), "--no-mlflow"]
                    jobs.append((cmd, out.with_suffix(".log"), out.with_suffix(".tmp")))
    print(f"{len(jobs)} runs to do on {args.workers} process(es)", flush=True)
    for i, code in run_parallel(jobs, args.workers):
        log, tmp = jobs[i][1], jobs[i][2]
        if code != 0:
            sys.exit(f"{tmp.stem}: failed (exit {code}), see {log}")
        json.loads(tmp.read_text(encoding="utf-8"))  # a complete result, or fail here
        tmp.replace(tmp.with_suffix(".json"))  # written whole: a relaunch skips it
        print(f"done {tmp.parent.name}/{tmp.stem}", flush=True)
    baseline = {}
    print("\n| recipe | backbone | macro-F1 % | accuracy % | steps | s/run | x baseline |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for (name, backbone), outs in results.items():
        runs = [json.loads(o.read_text(encoding="utf-8")) for o in outs]
        f1 = [100 * r["macro_f1"] for r in runs]
        acc = statistics.mean(100 * r["accuracy"] for r in runs)
        mean, sd = statistics.mean(f1), statistics.stdev(f1) if len(f1) > 1 else 0.0
        baseline.setdefault(backbone, mean)
        print(f"| {name} | {Path(backbone).name} | {mean:.1f} ± {sd:.1f} | {acc:.1f} | "
              f"{runs[0]['steps']} | {statistics.mean(r['seconds'] for r in runs):.0f} | "
              f"{mean / baseline[backbone]:.2f}x |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
