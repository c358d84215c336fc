"""After ``make run``: per-stage times from the DAG run's log, the evaluation, the exit status.

``python -m components.orchestration.summary LOG [--status N]``
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from components.orchestration.graph import load

STAGE_LINE = re.compile(r"^\[orchestration\] stage (\S+): (ran|up to date, skipped) in ([\d.]+) s")


def stage_times(log: str) -> dict[str, tuple[str, float]]:
    """Last outcome per stage (a retried stage reports once per attempt)."""
    out: dict[str, tuple[str, float]] = {}
    for line in log.splitlines():
        m = STAGE_LINE.match(line.strip())
        if m:
            out[m.group(1)] = ("ran" if m.group(2) == "ran" else "skipped", float(m.group(3)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="summary")
    p.add_argument("log")
    p.add_argument("--status", type=int, default=0, help="exit status of `airflow dags test`")
    args = p.parse_args(argv)
    log = Path(args.log)
    times = stage_times(log.read_text(encoding="utf-8", errors="replace"))
    order = load("dvc.yaml").active().order
    print("\nstage                 outcome   seconds")
    for name in order:
        outcome, secs = times.get(name, ("not run", 0.0))
        print(f"{name:<21} {outcome:<9} {secs:8.1f}")
    print(f"{'total':<21} {'':<9} {sum(s for _, s in times.values()):8.1f}")
    evaluation = Path("reports/evaluation.md")
    if args.status == 0 and evaluation.exists():
        print("\n" + evaluation.read_text(encoding="utf-8"))
    if args.status:
        missing = [n for n in order if n not in times]
        print(
            f"\n[run] the DAG run FAILED (exit {args.status}); not finished: "
            f"{', '.join(missing) or '-'}. Full log: {log}",
            file=sys.stderr,
        )
    return args.status


if __name__ == "__main__":
    sys.exit(main())
