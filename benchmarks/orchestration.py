"""DAG parse times and the no-op re-run of domain_adaptation, against named baselines.

    .venv/bin/python benchmarks/orchestration.py [--stages ingest,validate] [--repeat 3]

1. Parse time of each file in dags/ (fresh interpreter, DagBag stats) vs a baseline: a one-task
   TaskFlow DAG (the cost of Airflow's DAG machinery itself); also with DAPT_EXECUTION=kubernetes.
2. No-op re-run: after one full run of domain_adaptation in a scratch copy of the project (smoke
   profile), the time of a second `dag.test()` in which DVC skips every stage, vs the baseline
   `dvc repro` (CLI) on the same unchanged workspace.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import copy_project, tool_env  # noqa: E402
from tests.dags.conftest import airflow_env, migrate  # noqa: E402

BASELINE_DAG = """
from datetime import datetime
from airflow.sdk import dag, task

@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["baseline"])
def baseline():
    @task
    def noop():
        return 0
    noop()

baseline()
"""


def parse_times(folder: Path, home: Path, **env: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests/dags/parse_check.py"), str(folder)],
        env=tool_env(AIRFLOW_HOME=str(home), DAPT_PROJECT_ROOT=str(ROOT), **env),
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("PARSE_REPORT "))
    return json.loads(line.removeprefix("PARSE_REPORT "))["parse_seconds"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--stages", default="", help="comma-separated subset of dvc.yaml (default all)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-orch-"))
    home = work / "airflow"
    base_dir = work / "baseline_dags"
    base_dir.mkdir()
    (base_dir / "baseline.py").write_text(BASELINE_DAG, encoding="utf-8")

    rows = {
        "baseline (1-task TaskFlow DAG)": [],
        "domain_adaptation.py": [],
        "corpus_handoff.py": [],
        "domain_adaptation.py (kubernetes)": [],
    }
    for _ in range(args.repeat):
        rows["baseline (1-task TaskFlow DAG)"].append(
            next(iter(parse_times(base_dir, home).values()))
        )
        local = parse_times(ROOT / "dags", home)
        for name in ("domain_adaptation.py", "corpus_handoff.py"):
            rows[name].append(next(v for k, v in local.items() if k.endswith(name)))
        pods = parse_times(ROOT / "dags/domain_adaptation.py", home, DAPT_EXECUTION="kubernetes")
        rows["domain_adaptation.py (kubernetes)"].append(next(iter(pods.values())))
    base = min(rows["baseline (1-task TaskFlow DAG)"])
    print(f"{'DAG file':<36} {'best s':>8} {'x baseline':>11}")
    for name, vals in rows.items():
        print(f"{name:<36} {min(vals):8.3f} {min(vals) / base:11.1f}")

    # No-op re-run.
    import yaml

    root = copy_project(work / "project", profile="smoke")
    (root / "dvc.lock").unlink(missing_ok=True)
    if args.stages:
        keep = args.stages.split(",")
        data = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))
        data["stages"] = {k: v for k, v in data["stages"].items() if k in keep}
        (root / "dvc.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    env = airflow_env(root, home)
    migrate(root, env)
    out = work / "runs.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "components.orchestration.dagtest",
            "domain_adaptation",
            "--runs",
            str(1 + args.repeat),
            "--json",
            str(out),
        ],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    runs = json.loads(out.read_text())["runs"]
    assert all(r["state"] == "success" for r in runs), [r["state"] for r in runs]
    full, noops = runs[0]["seconds"], [r["seconds"] for r in runs[1:]]
    dvc = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "dvc"), "repro"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        dvc.append(time.perf_counter() - start)
    stages = len([k for k in runs[0]["tasks"] if k != "dvc_push"])
    print(f"\nstages: {stages}; first full run (smoke): {full:.1f} s")
    print(f"{'no-op re-run':<36} {'best s':>8} {'x baseline':>11}")
    print(f"{'baseline: dvc repro (CLI)':<36} {min(dvc):8.2f} {1.0:11.1f}")
    print(f"{'domain_adaptation dag.test()':<36} {min(noops):8.2f} {min(noops) / min(dvc):11.1f}")
    print(f"per task (dag.test no-op): {min(noops) / (stages + 1):.2f} s")
    print(f"(scratch folder: {work})")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    sys.exit(main())
