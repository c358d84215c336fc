"""The data gate of the stage graph (ingest -> validate) through DVC, MLflow and GX, on a scratch
copy of the project (smoke profile). The whole graph runs in tests/dags/test_domain_adaptation.py."""

import json
import subprocess

import pytest
import yaml

from components.lineage import events as ol_events
from tests.conftest import tool_env
from tests.lineage.schema import validate as validate_event

pytestmark = pytest.mark.slow


def dvc(project, *args, check=True):
    return subprocess.run(
        ["dvc", *args], cwd=project, env=tool_env(), capture_output=True, text=True, check=check
    )


def test_repro_twice_skips_logs_to_mlflow_and_fails_closed(project_copy):
    first = dvc(project_copy, "repro", "validate")
    assert "Running stage 'ingest'" in first.stdout and "Running stage 'validate'" in first.stdout
    manifest = project_copy / "data/validated/manifest.json"
    good = manifest.read_text()
    assert json.loads(good)["passed"]
    assert (project_copy / "reports/validation/data_docs/index.html").exists()

    pushed = subprocess.run(
        ["dapt", "push"], cwd=project_copy, env=tool_env(), capture_output=True, text=True
    )
    assert pushed.returncode == 0, pushed.stderr
    assert any((project_copy / ".dvc-remote").rglob("*")), "default local remote received nothing"
    other = project_copy.parent / "elsewhere"
    pushed = subprocess.run(
        ["dapt", "push"],
        cwd=project_copy,
        env=tool_env(DAPT_DVC_REMOTE=str(other)),
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0 and f"DAPT_DVC_REMOTE={other} overrides" in pushed.stderr
    assert any(other.rglob("*"))

    # OpenLineage (docs/lineage.md): each stage run sent START and COMPLETE, valid events whose
    # DVC hashes are dvc.lock's, and the validate run names the MLflow run it logged to.
    lineage = ol_events.read(project_copy)
    assert [(e["job"]["name"], e["eventType"]) for e in lineage] == [
        ("ingest", "START"), ("ingest", "COMPLETE"), ("validate", "START"), ("validate", "COMPLETE")
    ]  # fmt: skip
    lock = yaml.safe_load((project_copy / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    for e in lineage:
        validate_event(e)
    for e in ol_events.completed(lineage):
        entry = lock[e["job"]["name"]]
        for side, datasets in (("deps", e["inputs"]), ("outs", e["outputs"])):
            locked = {d["path"]: d["md5"] for d in entry[side]}
            for ds in datasets:
                if not ds["facets"]["dvc"].get("inside"):
                    assert ds["facets"]["dvc"]["md5"] == locked[ds["name"]], ds["name"]

    second = dvc(project_copy, "repro", "validate")
    assert "Running stage" not in second.stdout
    assert len(ol_events.read(project_copy)) == 4  # skipped stages send nothing
    assert "Stage 'ingest' didn't change, skipping" in second.stdout
    assert "Stage 'validate' didn't change, skipping" in second.stdout

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:////{str(project_copy).lstrip('/')}/.mlflow/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["medical-adaptation"], output_format="list")
    by_stage = {r.data.tags["stage"]: r for r in runs}
    assert set(by_stage) == {"ingest", "validate"}
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project_copy, capture_output=True, text=True
    ).stdout.strip()
    for run in by_stage.values():
        assert run.data.tags["git_commit"] == head and run.data.tags["profile"] == "smoke"
    val = by_stage["validate"]
    assert val.data.params["corpus.min_docs"] == "100" and val.data.metrics["passed"] == 1.0
    assert lineage[-1]["run"]["facets"]["dapt"]["mlflowRunIds"] == [val.info.run_id]
    digests = {d.dataset.name: d.dataset.digest for d in val.inputs.dataset_inputs}
    assert len(digests["data/ingested/general.jsonl"]) == 32

    # A delivery with an undeclared label: validate fails, nothing downstream, last good kept.
    test_tsv = project_copy / "data/samples/medical/cmedtc_test.tsv"
    test_tsv.write_text(
        test_tsv.read_text(encoding="utf-8") + "Unknown Class\t完全新的一条标准\n", encoding="utf-8"
    )
    failed = dvc(project_copy, "repro", "validate", check=False)
    assert failed.returncode != 0
    assert "label in the declared label set" in failed.stderr + failed.stdout
    assert manifest.read_text() == good
    # The failed report goes beside the last good one (--failed-report), which stays as it was.
    assert json.loads((project_copy / "reports/validation/summary.json").read_text())["passed"]
    summary = json.loads((project_copy / "reports/validation-failed/summary.json").read_text())
    assert not summary["passed"]
    fail = ol_events.read(project_copy)[-1]
    assert (fail["job"]["name"], fail["eventType"]) == ("validate", "FAIL")
    assert "label in the declared label set" in fail["run"]["facets"]["errorMessage"]["message"]
    validate_event(fail)
