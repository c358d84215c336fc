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
# DVC's message when a stage command fails, and Airflow's when a task does.
FAILED_STAGE = (
    re.compile(r"failed to reproduce '([^']+)'"),
    re.compile(r"Marking task as (?:FAILED|UP_FOR_RETRY)\.?.*?task_id=([\w.-]+)"),
)
# What a stage prints for an error a user can fix: `error: ...` and its `fix:` line (cli.py), or
# the validation summary (validate/report.py). Airflow may prefix log lines with its own fields.
ERROR_START = re.compile(r"(?:^|\s)(error: .*|Validation FAILED: .*)$")
ERROR_MORE = re.compile(
    r"^\s*(?:\S+ - )?(\s+fix: .*|(?:FAIL|ok  ) \S.*|\s+(?:x|e\.g\.) .*|Report: .*)$"
)


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


def failure(log: str) -> tuple[str | None, list[str]]:
    """(the stage that failed last, the error it printed): what `make run` shows at the end."""
    stage = None
    for line in log.splitlines():
        for pattern in FAILED_STAGE:
            m = pattern.search(line)
            if m:
                stage = m.group(1)
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in log.splitlines():
        m = ERROR_START.search(line.rstrip())
        if m:
            current = [m.group(1)]
            blocks.append(current)
            continue
        more = ERROR_MORE.match(line.rstrip()) if current is not None else None
        if more:
            current.append("  " + more.group(1).strip())  # type: ignore[union-attr]
        else:
            current = None
    # The last attempt's message (a retried task prints it once per attempt).
    return stage, (blocks[-1] if blocks else [])


def recommendation_lines(gate: dict) -> list[str]:
    """The label-budget recommendation register computed (reports/gate.json): the headline at
    the user's budget, then one sentence per budget."""
    rec = gate.get("recommendation")
    if not rec:
        return []
    lines = [f"Recommendation ({rec['user_budget']} labels per class): {rec['headline']}"]
    lines += [f"  {b['text']}" for b in rec.get("budgets", [])]
    lines += [
        f"  not recommended: {n} ({why})" for n, why in rec.get("not_recommended", {}).items()
    ]
    return lines


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
        for line in recommendation_lines(gate or {}):
            print(line)
        student = _json(Path("reports/distill.json"))
        if student and student.get("reason"):
            print(f"Distilled student: {student['reason']}")
    if args.status:
        missing = [n for n in order if n not in times]
        stage, error = failure(log.read_text(encoding="utf-8", errors="replace"))
        print(
            f"\n[run] the DAG run FAILED (exit {args.status}); not finished: "
            f"{', '.join(missing) or '-'}. Full log: {log}",
            file=sys.stderr,
        )
        if stage or error:
            print(f"[run] stage {stage or '?'} failed:", file=sys.stderr)
            for line in error or ["(no message from the stage: see the full log)"]:
                print(f"  {line}", file=sys.stderr)
    return args.status


if __name__ == "__main__":
    sys.exit(main())
