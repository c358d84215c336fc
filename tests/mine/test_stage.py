"""The real ``mine`` DVC stage on a scratch copy of the project (smoke profile), MLflow included."""

from __future__ import annotations

import json
import subprocess

import pytest

from components.data.text import file_digest
from tests.conftest import tool_env
from tests.mine.conftest import general_texts, medical_texts, write_jsonl

pytestmark = pytest.mark.slow


def test_dvc_stage_runs_on_validated_inputs_and_logs_to_mlflow(project_copy):
    # Small ingested inputs and their validation manifest stand in for the upstream stages
    # (tests/test_pipeline.py runs those); `repro -s` runs this stage alone.
    ingested = project_copy / "data/ingested"
    ingested.mkdir(parents=True)
    write_jsonl(
        ingested / "domain.jsonl",
        [{"id": f"d{i}", "text": t} for i, t in enumerate(medical_texts(300))],
    )
    write_jsonl(
        ingested / "general.jsonl",
        [{"id": f"g{i}", "text": t} for i, t in enumerate(general_texts(400))],
    )
    manifest = {
        "passed": True,
        "files": {
            f"data/ingested/{n}.jsonl": {"md5": file_digest(ingested / f"{n}.jsonl")}
            for n in ("domain", "general")
        },
    }
    (project_copy / "data/validated").mkdir(parents=True)
    (project_copy / "data/validated/manifest.json").write_text(json.dumps(manifest))
    run = subprocess.run(
        ["dvc", "repro", "-s", "mine"],
        cwd=project_copy,
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Running stage 'mine'" in run.stdout
    metrics = json.loads((project_copy / "metrics/mine.json").read_text())
    scores = (project_copy / "data/mined/scores.jsonl").read_text().splitlines()
    assert len(scores) == metrics["pool_docs"] > 0
    assert metrics["selected_docs"] > 0
    assert (project_copy / "plots/mine_scores.png").exists()

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:////{str(project_copy).lstrip('/')}/.mlflow/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["medical-adaptation"], output_format="list")
    mine = [r for r in runs if r.data.tags.get("stage") == "mine"]
    assert len(mine) == 1
    assert mine[0].data.metrics["selected_docs"] == metrics["selected_docs"]
    assert mine[0].data.params["method"] == "dsir"
