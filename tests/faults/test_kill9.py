"""kill -9 at a random point of every stage (seeded: DAPT_FAULT_SEED, printed), then the next
run: it succeeds, leaves no temporaries, and its outputs equal the uninterrupted reference run's.

Each stage is forced to run again (`dvc repro -f -s`) and its whole process group (DVC and the
stage command) is killed after a random share of the stage's reference time; the next run is the
orchestrator's (`runner.run_stage`, what every Airflow task and `make run` call: `dvc repro
--single-item` after clearing what a killed attempt left), as after a crash: it skips the stage
when the kill left the last good outputs in place, and reruns it (resuming pretraining from its
checkpoints) otherwise.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import TIMING, drop_timing, tool_env
from tests.faults.conftest import Project

SEED = int(os.environ.get("DAPT_FAULT_SEED", "15"))

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]


def _content(path) -> object:
    """A file's content for comparison, timing measurements left out."""
    if path.suffix == ".json":
        return drop_timing(json.loads(path.read_text(encoding="utf-8")))
    if path.suffix == ".tsv" and path.name.endswith("loss.tsv"):
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
        keep = [i for i, name in enumerate(rows[0]) if not TIMING.search(name)]
        return [[r[i] for i in keep] for r in rows]
    return path.read_bytes()


# Files that render timings (loss-curve images, model cards, HTML reports): compared by name.
RENDERED = re.compile(r"(\.png|README\.md|\.html)$")


def outputs(project: Project, stage: str) -> dict[str, object]:
    files = {}
    for out in project.outs(stage):
        path = project.root / out
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            rel = str(f.relative_to(project.root))
            if f.is_file() and "/data_docs/" not in rel:  # GX's site: time-stamped paths
                files[rel] = "rendered" if RENDERED.search(rel) else _content(f)
    return files


NEXT_RUN = (
    "import sys; from components.orchestration.runner import run_stage; run_stage('.', sys.argv[1])"
)


def kill_after(project: Project, seconds: float, *args: str) -> int | None:
    proc = subprocess.Popen(
        ["dvc", *args], cwd=project.root, env=tool_env(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return proc.wait(timeout=seconds)  # finished before the kill: nothing to test there
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def test_kill_9_anywhere_in_any_stage_then_the_next_run_equals_an_uninterrupted_one(project):
    rng = random.Random(SEED)
    print(f"kill -9 schedule seed: DAPT_FAULT_SEED={SEED}")
    report = []
    for stage in project.order:
        reference = outputs(project, stage)
        at = rng.uniform(0.05, 0.95) * project.seconds[stage]
        start = time.perf_counter()
        rc = kill_after(project, at, "repro", "-f", "-s", stage)
        killed = rc is None
        nxt = project.run(sys.executable, "-c", NEXT_RUN, stage)
        assert nxt.returncode == 0, f"{stage} after kill at {at:.1f}s:\n{nxt.stderr[-3000:]}"
        reran = f"stage {stage}: ran" in nxt.stdout
        assert outputs(project, stage) == reference, f"{stage}: killed at {at:.1f}s"
        left = project.leftovers()
        assert not left, f"{stage}: killed at {at:.1f}s, left {left}"
        checkpoints = [p for p in project.root.glob("models/*.checkpoints") if any(p.iterdir())]
        assert not checkpoints or not reran, checkpoints  # a completed stage clears its own
        report.append(
            f"{stage}: {'killed' if killed else 'finished'} at {at:.1f}s, next run "
            f"{'reran it' if reran else 'skipped it'} ({time.perf_counter() - start:.1f}s)"
        )
    print("\n".join(report))
