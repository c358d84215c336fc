"""The other project shapes end to end on the smoke profile, configured through params alone:
the English example (task-only: ACL-ARC, English base model) through the Airflow DAG, and a
corpus-only project (the medical demo without its task) through `dvc repro`."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, copy_project, tool_env
from tests.dags.conftest import AirflowProject, airflow_env, migrate

pytestmark = pytest.mark.slow


def test_english_task_only_example_runs_through_airflow(tmp_path):
    root = copy_project(tmp_path / "project", profile="smoke")
    shutil.copy(ROOT / "examples/acl-arc/params.yaml", root / "params.yaml")
    text = (
        (root / "params.yaml")
        .read_text(encoding="utf-8")
        .replace("profile: demo", "profile: smoke")
    )
    (root / "params.yaml").write_text(text, encoding="utf-8")
    (root / "dvc.lock").unlink(missing_ok=True)
    env = airflow_env(root, tmp_path / "airflow-home")
    migrate(root, env)
    (run,) = AirflowProject(root, env).dagtest("domain_adaptation")["runs"]
    assert run["state"] == "success", run
    metric = lambda name: json.loads((root / f"metrics/{name}.json").read_text())  # noqa: E731
    assert metric("ingest")["shape"] == "task-only"
    for stage in ("mine", "dapt", "dapt_tapt"):
        assert metric(stage)["skipped"] and "no domain corpus" in metric(stage)["reason"], stage
    assert metric("tapt_only")["steps"] > 0 and "skipped" not in metric("tapt_only")
    assert metric("control")["steps"] == metric("tapt_only")["steps"]  # matched to TAPT
    lexicon = (root / "data/lexicon/lexicon.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lexicon) > 1 and all(ord(c) < 0x3000 for c in "".join(lexicon))  # English words
    assert json.loads((root / "data/lexicon/metrics.json").read_text())["eval"] is None
    gate = json.loads((root / "reports/gate.json").read_text())
    assert gate["registered"] and gate["model"] == "acl-arc-classifier"
    report = (root / "reports/evaluation.md").read_text(encoding="utf-8")
    assert "task-only" in report and "`dapt` (no domain corpus" in report


def test_corpus_only_project_gates_on_perplexity(tmp_path):
    root = copy_project(tmp_path / "project", profile="smoke")
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["domain"]["task"] = None
    params["evaluate"]["pet"]["backbones"] = []
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    (root / "dvc.lock").unlink(missing_ok=True)
    run = subprocess.run(["dvc", "repro"], cwd=root, env=tool_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    metric = lambda name: json.loads((root / f"metrics/{name}.json").read_text())  # noqa: E731
    assert metric("ingest")["shape"] == "corpus-only"
    assert metric("dapt")["steps"] > 0
    for stage in ("dapt_tapt", "tapt_only", "finetune"):
        assert metric(stage)["skipped"] and "no labeled task" in metric(stage)["reason"], stage
    choice = metric("evaluate")["choice"]
    assert choice == {
        "kind": "mlm",
        "candidate": "dapt",
        "domain_char_ppl": choice["domain_char_ppl"],
    }
    gate = json.loads((root / "reports/gate.json").read_text())
    assert gate["registered"] and gate["model"] == "medical-mlm"
    assert "domain character perplexity" in gate["reason"] and "general character" in gate["reason"]
    refs = [c["reference"] for c in gate["comparisons"]]
    assert refs == ["base", "control"]
