"""After ``make run``: per-stage times from the DAG run's log, the evaluation, the exit status.

``python -m components.orchestration.summary LOG [--status N]``
"""

from __future__ import annotations

import argparse
import json
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


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def skipped(stage: str) -> str | None:
    """The reason a stage had nothing to do in this project's shape (its metrics say so)."""
    m = _json(Path(f"metrics/{stage}.json")) or {}
    return m.get("reason") if m.get("skipped") else None


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
        why = skipped(name)
        print(f"{name:<21} {outcome:<9} {secs:8.1f}" + (f"  (skipped: {why})" if why else ""))
    print(f"{'total':<21} {'':<9} {sum(s for _, s in times.values()):8.1f}")
    if args.status == 0:
        decon = _json(Path("metrics/decontaminate.json"))
        for split, e in (decon or {}).get("eval_texts", {}).items():
            print(
                f"decontamination: {e['found_in_pretraining_text']} of {e['checked']} {split} "
                "texts were found in pretraining text and removed from it"
            )
        evaluation = Path("reports/evaluation.md")
        if evaluation.exists():
            print("\n" + evaluation.read_text(encoding="utf-8"))
        gate = _json(Path("reports/gate.json"))
        if gate and gate.get("reason"):
            print(f"Gate: {gate['reason']}")
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
