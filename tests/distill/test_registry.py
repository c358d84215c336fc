"""The distill stage against a real MLflow server: the champion is fetched as the teacher when
this run promoted nothing, and the student's version names the teacher's."""

from __future__ import annotations

import json

import pytest

from components.distill.params import DistillParams
from components.distill.stage import Paths, run_stage
from components.finetune.params import FinetuneParams
from tests.distill.test_stage import _domain

# The session's MLflow server fixture: one xdist worker runs every test that shares it.
pytestmark = pytest.mark.xdist_group("mlflow_server")


def test_the_champion_teaches_and_the_students_version_names_it(served_champion, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    from components.tracking import stage_run
    from tests.finetune.tiny import write_task

    proj = served_champion["project"]
    write_task(tmp_path / "task", n_train=45, n_eval=18)
    (tmp_path / "gate.json").write_text(
        json.dumps({"candidate": "dapt/full", "promote": False, "model": "demo-classifier"}),
        "utf-8",
    )
    # models/classifier holds a model that must not be used: the registry's champion teaches
    paths = Paths(
        tmp_path / "gate.json", tmp_path / "nothing", tmp_path / "task", [], tmp_path / "s"
    )
    task = {"train": {"path": "raw/train.jsonl"}, "test": {"path": "raw/test.jsonl"}}
    dp = DistillParams(max_steps=2, batch_size=16, latency_texts=2, max_loss=1.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", served_champion["url"])
        mp.delenv("DAPT_PARENT_RUN_ID", raising=False)
        mp.chdir(proj)
        try:
            with stage_run("distill", dp, root=proj):
                report = run_stage(
                    _domain(task=task), FinetuneParams(threads=1), 1, dp, paths, MlflowClient()
                )
            client = MlflowClient()
            mv = client.get_model_version_by_alias("demo-classifier-small", "champion")
        finally:
            mlflow.set_tracking_uri(None)
    assert report["teacher"]["version"] == served_champion["version"]
    assert report["teacher"]["role"] == "champion" and "not promoted" in report["teacher"]["note"]
    assert report["registered"] and report["model"] == "demo-classifier-small"
    assert mv.version == report["version"]
    assert mv.tags["teacher.model"] == "demo-classifier"
    assert mv.tags["teacher.version"] == served_champion["version"]
