"""A stage run's inputs as MLflow datasets: one per input path, named as in dvc.yaml, with the
hash dvc.lock records (a folder's ``<md5>.dir`` included). Local SQLite store, seconds."""

from __future__ import annotations

import mlflow
import yaml

from components.tracking import _log_inputs
from tests.lineage.test_openlineage import (
    _repro_and_emit,
    project,  # noqa: F401 - the shared fixture
)


def test_inputs_are_logged_with_their_dvc_lock_hashes(project, monkeypatch):  # noqa: F811
    _repro_and_emit(project)
    lock = yaml.safe_load((project / "dvc.lock").read_text("utf-8"))["stages"]
    locked = {o["path"]: o["md5"] for st in lock.values() for o in st["outs"]}
    mlflow.set_tracking_uri(f"sqlite:////{str(project).lstrip('/')}/mlflow.db")
    monkeypatch.chdir(project / "out")  # inputs are given relative to wherever the stage runs
    try:
        exp = mlflow.create_experiment("t", (project / "art").as_uri())
        with mlflow.start_run(experiment_id=exp) as run:
            _log_inputs(["a", "b.txt", "b.txt", "missing.txt"], project)
        inputs = mlflow.MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    finally:
        mlflow.set_tracking_uri(None)
    got = {i.dataset.name: (i.dataset.digest, {t.key: t.value for t in i.tags}) for i in inputs}
    assert got.keys() == {"out/a", "out/b.txt"}  # once each; a missing path is not an input
    for name, (digest, tags) in got.items():
        assert digest == locked[name] == tags["dvc_md5"]
    assert got["out/a"][0].endswith(".dir")
