"""The smallest real project the whole stage graph runs on: the bundled medical samples cut to
a few hundred rows (every class of the task kept), smoke profile, one seed, one strategy.

Built once per test session (tests/faults/conftest.py); every fault test breaks something in it,
checks the error, applies the fix and checks the last good outputs came through unchanged.
"""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from pathlib import Path

import yaml

from tests.conftest import copy_project, tool_env

MEDICAL = "data/samples/medical"
PER_CLASS = {"train": 5, "dev": 2, "test": 2}


def _stratified(src: Path, dest: Path, per_class: int) -> None:
    """The first ``per_class`` rows of every label (file order), as a smaller TSV."""
    kept: dict[str, int] = defaultdict(int)
    rows = []
    for line in src.read_text(encoding="utf-8").splitlines(keepends=True):
        label = line.split("\t", 1)[0]
        if kept[label] < per_class:
            kept[label] += 1
            rows.append(line)
    dest.write_text("".join(rows), encoding="utf-8")


def build(dest: Path) -> Path:
    """A scratch copy of the project with tiny inputs (a git repo, DVC initialised)."""
    root = copy_project(dest, profile="smoke")
    (root / "dvc.lock").unlink(missing_ok=True)
    for split, n in PER_CLASS.items():
        _stratified(root / MEDICAL / f"cmedtc_{split}.tsv", root / MEDICAL / f"tiny_{split}.tsv", n)
    params_file = root / "params.yaml"
    params = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    domain = params["domain"]
    domain["corpus"] = domain["corpus"][:1] + domain["corpus"][2:]  # one cMedQA file + dialogues
    for split in PER_CLASS:
        domain["task"][split]["path"] = f"{MEDICAL}/tiny_{split}.tsv"
    params["ingest"]["profiles"]["smoke"] = {"max_docs_per_source": 120}
    params["validate"]["profiles"]["smoke"] = {
        "corpus": {"min_docs": 100, "min_bytes": 10000},
        "task": {"min_rows": 100},
    }
    params["finetune"]["profiles"]["smoke"].update(max_train_rows=0, max_dev_rows=60)
    # Every pretraining stage still runs; three of them are fine-tuned and compared.
    params["evaluate"]["profiles"]["smoke"]["candidates"] = ["base", "control", "dapt"]
    params_file.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), "utf-8")
    # MLflow is not what these tests are about and importing it costs ~5 s per stage here:
    # every stage that tracks runs gets --no-mlflow (tests/test_pipeline.py covers tracking).
    dvc_file = root / "dvc.yaml"
    graph = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))
    for name, stage in graph["stages"].items():
        if name != "report":
            stage["cmd"] = stage["cmd"].rstrip() + " --no-mlflow"
    dvc_file.write_text(yaml.safe_dump(graph, allow_unicode=True, sort_keys=False), "utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "tiny inputs")
    return root


def git(root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["git", "-c", "user.email=t@example.com", "-c", "user.name=test", *args]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True)


def run(root: Path, *cmd: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(cmd), cwd=root, env=tool_env(**env), capture_output=True, text=True, timeout=timeout
    )


def repro_all(root: Path, timeout: float = 900) -> dict[str, float]:
    """One ``dvc repro`` of the whole graph (the reference run); seconds per stage, read from
    when DVC announces each stage."""
    proc = subprocess.Popen(
        ["dvc", "repro"], cwd=root, env=tool_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    starts: list[tuple[str, float]] = []
    lines = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:  # type: ignore[union-attr]
        lines.append(line)
        if line.startswith("Running stage '"):
            starts.append((line.split("'")[1], time.perf_counter()))
        assert time.monotonic() < deadline, "reference run timed out"
    rc = proc.wait()
    assert rc == 0, "".join(lines)[-4000:]
    end = time.perf_counter()
    return {
        name: (starts[i + 1][1] if i + 1 < len(starts) else end) - t
        for i, (name, t) in enumerate(starts)
    }
