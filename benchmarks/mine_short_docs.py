"""`dapt mine` end to end on short documents: this checkout vs a baseline checkout, one run.

    .venv/bin/python benchmarks/build_domain_bench.py          # once
    git archive 8dc687f | tar -x -C /tmp/mine-base             # the baseline's code
    .venv/bin/python benchmarks/mine_short_docs.py --baseline /tmp/mine-base [--rounds 2]

Pool: the NLPCC 2017 headlines (36,000, median ~20 characters) with 600 of the car headlines
hidden among the other categories and the 2,500 CLUE documents; seed: 300 other car headlines
(the "realistic small seed" of issue 17); budget = 600. Each round runs the baseline and this
checkout alternately with the same Python environment (the project's .venv) and params.yaml of
each checkout, one worker process. Reported: end-to-end MB/s (the command's own total, reading
to writing), score-pass MB/s, and F1 against the hidden headlines. Bytecode caching is on (an
environment with PYTHONDONTWRITEBYTECODE recompiles every import on every start).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "build" / "domain_bench"


def build_inputs(work: Path) -> tuple[Path, Path, set[str]]:
    by_cat: dict[str, list[str]] = {}
    with open(BENCH / "headlines.tsv", encoding="utf-8") as f:
        for line in f:
            cat, _, text = line.rstrip("\n").partition("\t")
            by_cat.setdefault(cat, []).append(text)
    with open(BENCH / "zh" / "background.txt", encoding="utf-8") as f:
        general = [x.strip() for x in f if x.strip()]
    rng = random.Random(0)
    car = by_cat["car"][:]
    rng.shuffle(car)
    rows = [{"id": f"car{i}", "text": t} for i, t in enumerate(car[:600])]
    rows += [{"id": f"{c}{i}", "text": t} for c, ts in by_cat.items() if c != "car"
             for i, t in enumerate(ts)]  # fmt: skip
    rows += [{"id": f"clue{i}", "text": t} for i, t in enumerate(general)]
    random.Random(1).shuffle(rows)
    pool, seed = work / "pool.jsonl", work / "seed.jsonl"
    with open(pool, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    with open(seed, "w", encoding="utf-8") as f:
        f.writelines(
            json.dumps({"id": f"s{i}", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate(car[600:900])
        )
    return seed, pool, {f"car{i}" for i in range(600)}


def run(src: Path, seed: Path, pool: Path, out: Path, truth: set[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "components.cli", "mine", "--seed", str(seed), "--pool",
           str(pool), "--out", str(out), "--top-n", "600", "--workers", "1", "--no-progress",
           "--no-mlflow", "--metrics", str(out) + ".json", "--params", str(src / "params.yaml")]  # fmt: skip
    if "add_validated_switch" in (src / "components/mine/cli.py").read_text(encoding="utf-8"):
        cmd.append(
            "--no-validated-check"
        )  # ad-hoc files; a baseline from before the one switch has none
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    m = json.loads(Path(str(out) + ".json").read_text())
    with open(out / "scores.jsonl", encoding="utf-8") as f:
        kept = {r["id"] for r in map(json.loads, f) if r["kept"]}
    mb = m["pool_bytes"] / 1e6
    return {"e2e": m["throughput_mb_s"]["end_to_end"], "score": m["throughput_mb_s"]["score_pass"],
            "wall_mb_s": mb / wall, "f1": len(kept & truth) / len(truth), "rss": m["peak_rss_mb"]}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, required=True, help="checkout of the baseline code")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = BENCH / "short_docs"
    work.mkdir(parents=True, exist_ok=True)
    seed, pool, truth = build_inputs(work)
    print(f"pool {pool.stat().st_size / 1e6:.1f} MB; load average {os.getloadavg()}")
    res: dict[str, list[dict]] = {"baseline": [], "this checkout": []}
    for r in range(args.rounds + 1):  # round 0 warms the bytecode caches and is not counted
        for name, src in (("baseline", args.baseline), ("this checkout", ROOT)):
            x = run(src, seed, pool, work / f"out-{name.split()[0]}", truth)
            if r:
                res[name].append(x)
    print("\n| code | F1 | end-to-end MB/s (command's total) | wall MB/s (incl. start-up) | "
          "score pass MB/s | peak RSS MB |\n|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for name, xs in res.items():

        def med(k, xs=xs):
            return sorted(x[k] for x in xs)[len(xs) // 2]

        print(f"| {name} | {med('f1'):.3f} | {med('e2e'):.2f} | {med('wall_mb_s'):.2f} | "
              f"{med('score'):.2f} | {med('rss'):.0f} |")  # fmt: skip
    b, t = res["baseline"], res["this checkout"]
    ratio = sorted(y["e2e"] / x["e2e"] for x, y in zip(b, t, strict=True))[len(b) // 2]
    print(f"\nend-to-end ratio this / baseline (median of rounds): {ratio:.2f}x; "
          f"load average {os.getloadavg()}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
