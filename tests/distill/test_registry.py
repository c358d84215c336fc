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


def test_a_student_that_loses_more_than_the_margin_is_not_registered(served_champion, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    from components.data.labels import read_label_file
    from components.finetune.data import read_split
    from components.finetune.run import finetune
    from components.tracking import stage_run
    from tests.finetune.tiny import build_backbone, write_task

    proj = served_champion["project"]
    files = write_task(tmp_path / "task", n_train=90, n_eval=30)
    labels = read_label_file(files["labels"])
    train, dev, test = (read_split(files[s], labels) for s in ("train", "dev", "test"))
    # A teacher that learned the task (its keywords decide the class) ...
    ft = FinetuneParams(
        max_len=32,
        pooling="mean",
        threads=1,
        epochs=60.0,
        max_steps=150,
        patience=20,
        lr={**FinetuneParams().lr, "full": 3e-3},
    )
    backbone = build_backbone(tmp_path / "base")
    teacher = finetune(backbone, "full", labels, train, dev, test, ft, 0, tmp_path / "cls")
    gate = {
        "candidate": "base/full",
        "promote": True,
        "registered": True,
        "version": "7",
        "model": "demo-classifier",
    }
    (tmp_path / "gate.json").write_text(json.dumps(gate), "utf-8")
    paths = Paths(tmp_path / "gate.json", tmp_path / "cls", tmp_path / "task", [], tmp_path / "s")
    task = {"train": {"path": "raw/train.jsonl"}, "test": {"path": "raw/test.jsonl"}}
    # ... and a student wrecked by a huge learning rate (Adam moves every weight by ~lr): it
    # loses far more than 2 points.
    dp = DistillParams(max_steps=3, lr=50.0, latency_texts=2, max_loss=0.02)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", served_champion["url"])
        mp.delenv("DAPT_PARENT_RUN_ID", raising=False)
        mp.chdir(proj)
        try:
            before = MlflowClient().search_model_versions("name='demo-classifier-small'")
            with stage_run("distill", dp, root=proj):
                report = run_stage(_domain(task=task), ft, 1, dp, paths, MlflowClient())
            after = MlflowClient().search_model_versions("name='demo-classifier-small'")
        finally:
            mlflow.set_tracking_uri(None)
    assert teacher.macro_f1 == pytest.approx(report["teacher"]["macro_f1"])
    assert report["loss"] > 0.02, report["reason"]
    assert not report["registered"] and report["alias"] == "-"
    assert len(after) == len(before)  # no version of the loser, champion or otherwise
