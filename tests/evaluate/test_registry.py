"""The gate's decisions in a real MLflow registry (SQLite in tmp_path)."""

import json

import mlflow
import pytest
from transformers import AutoTokenizer

from components.evaluate import registry
from components.evaluate.gate import Scores, decide
from components.evaluate.params import GateParams
from components.finetune.core import build_classifier, save_classifier
from components.finetune.params import FinetuneParams
from components.register.core import intervals
from tests.evaluate.synthetic import labels, predictions
from tests.finetune.tiny import LABELS

NAME = "demo-classifier"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("DAPT_PARENT_RUN_ID", raising=False)
    mlflow.set_tracking_uri(f"sqlite:////{str(tmp_path).lstrip('/')}/mlflow.db")
    exp = mlflow.create_experiment("t", (tmp_path / "art").as_uri())
    mlflow.set_experiment(experiment_id=exp)
    yield
    mlflow.set_tracking_uri(None)


def test_registry_history_records_every_decision_and_interval_champion_moves_only_on_a_win(
    tiny, tmp_path, store
):
    backbone, _ = tiny
    p = FinetuneParams(max_len=32)
    model_dir = tmp_path / "m"
    tok = AutoTokenizer.from_pretrained(backbone)
    save_classifier(
        build_classifier(backbone, "full", LABELS, p), tok, "full", model_dir, p, backbone, LABELS
    )
    gate = GateParams(bootstrap_samples=300)
    client = mlflow.MlflowClient()
    y = labels()
    base = Scores("base/full", [0, 1, 2], [predictions(y, 0.60, s, "base") for s in range(3)])

    def attempt(accuracy, tag):
        cand = Scores("dapt/full", [0, 1, 2], [predictions(y, accuracy, s, tag) for s in range(3)])
        mv = registry.champion(client, NAME)
        ref, note = registry.champion_scores(client, mv, "T") if mv else (None, "")
        d = decide(cand, ref or base, None, y, gate, note=note)
        with mlflow.start_run():
            tags = {"gate.test_md5": "T", "gate.intervals": json.dumps(intervals(d)), "candidate": "dapt", "strategy": "full"}  # fmt: skip
            stored = {
                "gate/predictions.json": {"seeds": cand.seeds, "predictions": cand.predictions}
            }
            return registry.register(
                lambda: registry.log_classifier(model_dir), NAME, tags, d, stored
            ), d

    v1, d1 = attempt(0.80, "a")  # beats the base: first champion
    _, d2 = attempt(0.70, "b")  # worse than the champion
    v3, d3 = attempt(0.80, "c")  # as good as the champion, not better
    assert (d1.promote, d2.promote, d3.promote) == (True, False, False)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v1
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == v3
    rows = registry.history(NAME)
    assert [r["decision"] for r in rows] == ["champion", "challenger", "challenger"]
    assert "vs base/full" in rows[0]["reason"]
    assert "vs champion v1" in rows[1]["reason"] and "margin" in rows[1]["reason"]
    first = json.loads(rows[0]["intervals"])[0]
    assert first["reference"] == "base/full" and first["low"] > 0.005 and first["passed"]
    assert (
        json.loads(rows[2]["intervals"])[0]["low"] < 0 < json.loads(rows[2]["intervals"])[0]["high"]
    )
    # the registered champion serves predictions
    served = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(["高血压患者", "孕妇"])
    assert len(served) == 2 and set(served) <= set(LABELS)
