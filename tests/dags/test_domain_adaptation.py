"""End-to-end: the domain_adaptation DAG runs every stage of dvc.yaml through DVC (smoke profile)."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
import yaml

from components.orchestration.graph import load

pytestmark = pytest.mark.slow


def _returns(run: dict, stages: list[str]) -> dict[str, dict]:
    return {s: run["tasks"][s]["return"] for s in stages}


def test_runs_all_stages_then_skips_then_retries_only_the_failed_one(airflow_project):
    root = airflow_project.root
    stages = load(root / "dvc.yaml").active().order  # frozen stages never run
    # Every stage command leaves a trace, so we count real executions, not just task states.
    dvc_yaml = root / "dvc.yaml"
    data = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))
    for name in stages:
        data["stages"][name]["cmd"] = f"echo {name} >> .stage-runs && {data['stages'][name]['cmd']}"
    dvc_yaml.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    runs_log = root / ".stage-runs"

    first, second = airflow_project.dagtest("domain_adaptation", "--runs", "2")["runs"]
    assert first["state"] == "success", first
    assert set(first["tasks"]) == {*stages, "dvc_push"}
    assert all(t["state"] == "success" for t in first["tasks"].values()), first
    assert all(r["ran"] for r in _returns(first, stages).values()), first
    assert Counter(runs_log.read_text().split()) == dict.fromkeys(stages, 1)
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    assert set(lock["stages"]) == set(stages)
    assert first["tasks"]["dvc_push"]["return"] > 0  # outputs reached the DVC remote

    # Nothing changed: DVC skips every stage and dvc.lock is untouched.
    assert second["state"] == "success", second
    assert not any(r["ran"] for r in _returns(second, stages).values()), second
    assert Counter(runs_log.read_text().split()) == dict.fromkeys(stages, 1)
    assert yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8")) == lock

    # Plain `dvc repro` on the same workspace agrees: every stage is up to date (an on-demand
    # stage in the root dvc.yaml, even frozen, would fail here on its missing outputs).
    cli = subprocess.run(
        ["dvc", "repro"], cwd=root, env=airflow_project.env, capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr[-2000:]
    assert "Running stage" not in cli.stdout and "up to date" in cli.stdout

    # The last stage now fails on its first attempt; Airflow retries only that task.
    last = stages[-1]
    data["stages"][last]["cmd"] = (
        "echo try >> .tries-last && { test -e .failed-once || { touch .failed-once; exit 3; }; } && "
        + data["stages"][last]["cmd"]
    )
    dvc_yaml.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (third,) = airflow_project.dagtest("domain_adaptation")["runs"]
    assert third["state"] == "success", third
    assert third["tasks"][last]["try_number"] == 2
    assert third["tasks"][last]["return"]["ran"] is True
    assert (root / ".tries-last").read_text().split() == ["try", "try"]
    assert all(third["tasks"][s]["try_number"] == 1 for s in stages[:-1])
    # No earlier stage executed again, in this run or its retry.
    assert Counter(runs_log.read_text().split()) == {**dict.fromkeys(stages, 1), last: 2}
