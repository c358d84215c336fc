"""Start-up cost of reading params.yaml through the pydantic-validated loader, against baselines.

    .venv/bin/python benchmarks/params_load.py [--repeat 9] [--before DIR]

Each row is a fresh interpreter (what every stage process is), best and median of ``--repeat``:
the floor (Python + reading params.yaml with PyYAML, no validation), ``load_section`` of one
section and ``load_all``, each cold and with pydantic already imported (as in every stage, whose
MLflow run, GX checks or Airflow task import pydantic anyway). ``--before DIR``: a copy of an
earlier ``components/`` (``git archive <commit> components params.yaml | tar -x -C DIR``), timed
in the same rounds, interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRELOAD = "import pydantic, pydantic.dataclasses; "
CASES = {
    "floor: yaml.safe_load(params.yaml)": "import yaml; yaml.safe_load(open('params.yaml'))",
    "load_section('pretrain')": "from components.config import load_section; "
    "load_section('pretrain', 'params.yaml')",
    "load_all()": "from components.config import load_all; load_all('params.yaml')",
    "load_section('pretrain'), pydantic imported": PRELOAD
    + "from components.config import load_section; load_section('pretrain', 'params.yaml')",
    "load_all(), pydantic imported": PRELOAD
    + "from components.config import load_all; load_all('params.yaml')",
}


def once(code: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--before", type=Path, help="folder holding an earlier components/")
    args = ap.parse_args()
    sides = {"now": ROOT} | ({"before": args.before} if args.before else {})
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for case, code in CASES.items():
            for side, cwd in sides.items():
                times.setdefault((case, side), []).append(once(code, cwd))
    print("| case | code | best (ms) | median (ms) |\n|---|---|---:|---:|")
    for (case, side), ts in times.items():
        print(f"| {case} | {side} | {1000 * min(ts):.0f} | {1000 * statistics.median(ts):.0f} |")


if __name__ == "__main__":
    main()
