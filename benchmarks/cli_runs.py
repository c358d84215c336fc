"""Shared by the benchmarks that run ``dapt`` commands side by side (not a benchmark itself).

Tiny models scale poorly over threads, so each run gets one torch thread and runs go in parallel,
``workers`` at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}


def dapt(*args: str) -> list[str]:
    """The ``dapt`` CLI as a command line, with this interpreter."""
    return [sys.executable, "-m", "components.cli", *args]


def _run(cmd: list[str], log: Path, stdout: Path | None) -> int:
    with open(log, "w") as err, open(stdout or os.devnull, "w") as out:
        target = out if stdout else err
        return subprocess.run(cmd, cwd=ROOT, env=ENV, stdout=target, stderr=err).returncode


def run_parallel(
    jobs: list[tuple[list[str], Path, Path | None]], workers: int
) -> Iterator[tuple[int, int]]:
    """Run ``(command, log file, stdout file or None)`` jobs; yield (job index, exit code) as each
    finishes. Without a stdout file, stdout goes to the log with stderr."""
    with ThreadPoolExecutor(max(1, workers)) as pool:
        futures = {pool.submit(_run, *job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
