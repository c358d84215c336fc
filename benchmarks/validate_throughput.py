"""Validation throughput and peak memory: our streaming stage vs whole-file GX (the baseline).

Baseline ("pandas+GX"): read the whole corpus into a DataFrame and run the same row-level
expectations on every row, as a GX quick-start would. Ours: one streaming pass of statistics over
every document, GX on a bounded sample chosen by position hash. Both run in fresh subprocesses on 1x, 2x and 4x copies
of the 35 MB news corpus so peak RSS can be compared as the corpus grows.

    .venv/bin/python benchmarks/validate_throughput.py [--corpus ../shared/data/bench/xinwen_lianbo_news.jsonl]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared/data/bench/xinwen_lianbo_news.jsonl"


def worker(method: str, path: str) -> None:
    sys.path.insert(0, str(ROOT))
    import great_expectations  # noqa: F401  (import cost is fixed; keep it out of the timing)

    from components.validate.core import ReadOptions, validate_files
    from components.validate.params import ValidateParams

    params = ValidateParams()
    size = Path(path).stat().st_size
    start = time.perf_counter()
    if method == "ours":
        outcome = validate_files([path], None, None, params, ReadOptions(), None)
        n_checks = len(outcome.results)
    else:
        import pandas as pd

        from components.validate.suites import corpus_batches, run_batches

        df = pd.read_json(path, lines=True, dtype={"id": str})
        stats = {
            "n_docs": len(df),
            "n_bytes": size,
            "empty_docs": 0,
            "fffd_docs": 0,
            "control_docs": 0,
            "dup_rate": 1 - df["text"].nunique() / len(df),
            "script_ratio": 1.0,
            "out_of_length_share": 0.0,
        }
        batches = corpus_batches(
            path, list(zip(df["id"], df["text"], strict=True)), stats, params.corpus, "zh"
        )
        n_checks = len(run_batches(batches, None))
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "bytes": size, "peak_rss_mb": rss, "checks": n_checks}))


def replicate(src: Path, dest: Path, times: int) -> Path:
    with open(src, encoding="utf-8") as f, open(dest, "w", encoding="utf-8") as out:
        lines = f.readlines()
        for k in range(times):
            for line in lines:
                row = json.loads(line)
                row["id"] = f"{row['id']}-{k}"
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    ap.add_argument("--scales", default="1,2,4")
    ap.add_argument("--worker", nargs=2, metavar=("METHOD", "FILE"))
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in map(int, args.scales.split(",")):
            path = replicate(args.corpus, Path(tmp) / f"news_x{scale}.jsonl", scale)
            for method in ("baseline", "ours"):
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", method, str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                r = json.loads(out.strip().splitlines()[-1]) | {"method": method, "scale": scale}
                r["mb_s"] = r["bytes"] / 1e6 / r["seconds"]
                rows.append(r)
                print(
                    f"x{scale} {method:8s} {r['bytes'] / 1e6:7.1f} MB  {r['seconds']:6.2f} s  "
                    f"{r['mb_s']:6.1f} MB/s  peak RSS {r['peak_rss_mb']:7.0f} MB",
                    flush=True,
                )
    print("\nratio ours / baseline (throughput, peak memory):")
    for scale in sorted({r["scale"] for r in rows}):
        base, ours = (
            next(r for r in rows if r["scale"] == scale and r["method"] == m)
            for m in ("baseline", "ours")
        )
        print(
            f"  x{scale}: {ours['mb_s'] / base['mb_s']:.2f}x throughput, {ours['peak_rss_mb'] / base['peak_rss_mb']:.2f}x memory"
        )
    ours = [r for r in rows if r["method"] == "ours"]
    big = max(ours, key=lambda r: r["bytes"])
    print(
        f"\nours, extrapolated to 1 GB: {1e9 / 1e6 / big['mb_s']:.0f} s; "
        f"peak RSS from x{ours[0]['scale']} to x{big['scale']}: {ours[0]['peak_rss_mb']:.0f} -> {big['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
