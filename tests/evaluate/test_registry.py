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
from tests.finetune.tiny import LABELS

NAME = "medical-classifier"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("DAPT_PARENT_RUN_ID", raising=False)
    mlflow.set_tracking_uri(f"sqlite:////{str(tmp_path).lstrip('/')}/mlflow.db")
    exp = mlflow.create_experiment("t", (tmp_path / "art").as_uri())
    mlflow.set_experiment(experiment_id=exp)
    yield
    mlflow.set_tracking_uri(None)


def test_registry_history_records_every_decision_and_champion_only_moves_on_a_win(
    tiny, tmp_path, store
):
    backbone, _ = tiny
    p = FinetuneParams()
    model_dir = tmp_path / "m"
    tok = AutoTokenizer.from_pretrained(backbone)
    save_classifier(
        build_classifier(backbone, "full", LABELS, p), tok, "full", model_dir, p, backbone, LABELS
    )
    gate = GateParams()
    client = mlflow.MlflowClient()
    base = Scores("base/full", [0.40, 0.41, 0.405])

    def attempt(cand_scores):
        mv = registry.champion(client, NAME)
        ref, note = registry.champion_scores(client, mv, "T") if mv else (None, "")
        d = decide(Scores("dapt/full", cand_scores), ref or base, None, gate, note=note)
        with mlflow.start_run():
            tags = {"gate.test_md5": "T", "gate.seed_macro_f1": json.dumps(cand_scores), "candidate": "dapt", "strategy": "full"}  # fmt: skip
            return registry.register(model_dir, NAME, tags, d, {"predictions": []}), d

    v1, d1 = attempt([0.50, 0.51, 0.505])  # beats the base: first champion
    _, d2 = attempt([0.45, 0.46, 0.455])  # worse than the champion
    v3, d3 = attempt([0.48, 0.54, 0.52])  # within noise of the champion
    assert (d1.promote, d2.promote, d3.promote) == (True, False, False)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v1
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == v3
    rows = registry.history(NAME)
    assert [r["decision"] for r in rows] == ["champion", "challenger", "challenger"]
    assert "vs base/full" in rows[0]["reason"]
    assert "vs champion v1" in rows[1]["reason"] and "margin" in rows[1]["reason"]
    assert "not significant" in rows[2]["reason"]
    # the registered champion serves predictions
    served = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(["高血压患者", "孕妇"])
    assert len(served) == 2 and set(served) <= set(LABELS)
