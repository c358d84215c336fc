"""One real MLflow run: params, metrics and the three artifacts are logged."""

from __future__ import annotations

from pathlib import Path

from components.cli import main
from tests.conftest import tool_env


def test_run_is_logged_to_mlflow(corpora, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text(
        "profile: smoke\n"
        "tracking: {mlflow_uri: 'sqlite:///.mlflow/mlflow.db', mlflow_artifacts: .mlflow/artifacts}\n"
        "domain: {name: nw, lang: zh, inputs: raw, base_model: models/base, corpus: [],"
        " general: [{path: raw/g.txt}], task: {train: {path: raw/t.tsv}, test: {path: raw/t.tsv}},"
        " experiment: nw-test}\n"
        "newwords: {min_count: 5, profiles: {smoke: {min_count: 3, top_k: 50}}}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(project)
    for key in ("MLFLOW_TRACKING_URI", "DAPT_PARENT_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    assert "MLFLOW_TRACKING_URI" not in tool_env()
    rc = main(["newwords", "--corpus", str(corpora["domain"]), "--background",
               str(corpora["general"]), "--reference", str(corpora["reference"]),
               "--out", "out", "--plot", "plots/newwords.png", "--no-validated-check"])  # fmt: skip
    assert rc == 0
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:////{str(project).lstrip('/')}/.mlflow/mlflow.db")
    (run,) = mlflow.search_runs(experiment_names=["nw-test"], output_format="list")
    assert run.data.tags["stage"] == "newwords" and run.data.tags["profile"] == "smoke"
    assert run.data.params["min_count"] == "3" and run.data.params["top_k"] == "50"
    assert run.data.metrics["eval.recall"] == 1.0
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    assert {p.name for p in artifacts.iterdir()} == {"lexicon.tsv", "metrics.json", "newwords.png"}
