"""The gate's decisions in a real MLflow registry (SQLite in tmp_path)."""

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from transformers import AutoTokenizer

from components.evaluate import registry
from components.evaluate.gate import Decision, Scores, decide
from components.evaluate.params import GateParams
from components.finetune.core import build_classifier, save_classifier
from components.finetune.params import FinetuneParams
from components.register.core import intervals
from tests.conftest import SERVED_TEXTS, VENV_BIN
from tests.evaluate.synthetic import labels, predictions
from tests.finetune.tiny import LABELS

# One worker runs every test of this group (they share a session fixture).
pytestmark = pytest.mark.xdist_group("mlflow_server")

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
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    served = model.predict(pd.DataFrame({"text": ["高血压患者", "孕妇"]}))
    assert len(served) == 2 and set(served) <= set(LABELS)


class _Payload:
    """Unpickling this creates ``marker``: a stand-in for any code a pickle can run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_registered_model_loads_no_pickle_even_with_planted_payloads(tiny, tmp_path, store):
    """The model is source + safetensors; pickles planted where loaders look for them (MLflow's
    ``python_model.pkl``, transformers' and peft's ``*.bin``) are never opened."""
    import pickle

    import torch
    from mlflow import MlflowClient

    from components.evaluate.gate import Decision

    backbone, _ = tiny
    p = FinetuneParams(max_len=32, pooling="mean")
    model_dir = tmp_path / "m"  # soft prompts: the adapter is loaded by peft at serving time
    model = build_classifier(backbone, "prompt_tuning", LABELS, p)
    tok = AutoTokenizer.from_pretrained(backbone)
    save_classifier(model, tok, "prompt_tuning", model_dir, p, backbone, LABELS)
    with mlflow.start_run():
        decision = Decision(True, "champion", "champion: test")
        version = registry.register(
            lambda: registry.log_classifier(model_dir, ["高血压"]), NAME, {}, decision, {}
        )
    local = mlflow.artifacts.download_artifacts(
        MlflowClient().get_model_version_download_uri(NAME, version)
    )
    local = Path(local)
    files = [f for f in local.rglob("*") if f.is_file()]
    assert not [f for f in files if f.read_bytes()[:1] == b"\x80"], "a pickle was logged"
    mlmodel = (local / "MLmodel").read_text(encoding="utf-8")
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert "python_model.pkl" not in mlmodel
    assert (local / "code/dapt_serving/meanpool.py").exists()
    reqs = (local / "requirements.txt").read_text(encoding="utf-8").split()
    for pkg in ("torch", "transformers", "peft", "safetensors", "mlflow"):
        assert any(r.startswith(f"{pkg}==") for r in reqs), (pkg, reqs)

    marker = tmp_path / "PWNED"
    payload = pickle.dumps(_Payload(str(marker)))
    pickle.loads(payload)  # the payload works: unpickling it creates the marker
    assert marker.exists()
    marker.unlink()
    weights = next(local.glob("artifacts/*/finetune.json")).parent
    (local / "python_model.pkl").write_bytes(payload)
    for target in ("pytorch_model.bin", "training_args.bin", "adapter/adapter_model.bin"):
        torch.save(_Payload(str(marker)), weights / target)  # torch.save pickles it too
    served = mlflow.pyfunc.load_model(str(local))
    out = served.predict(pd.DataFrame({"text": ["高血压患者", "孕妇"]}))
    assert len(out) == 2 and set(out) <= set(LABELS)
    assert not marker.exists()
    # Weights present only as a pickle: refused, still without unpickling anything.
    (weights / "adapter/adapter_model.safetensors").unlink()
    with pytest.raises(Exception, match="pickled weights are never loaded"):
        mlflow.pyfunc.load_model(str(local))
    assert not marker.exists()


@pytest.mark.slow
def test_registered_model_predicts_in_a_clean_venv_built_from_its_own_requirements(
    served_champion, tmp_path
):
    """No project checkout, nothing but the model's requirements.txt (torch from the local wheel
    folder, as the Makefile installs it), loaded by URI from the tracking server."""
    mlflow.set_tracking_uri(served_champion["url"])
    uri = "models:/demo-classifier@champion"
    reqs = Path(mlflow.pyfunc.get_model_dependencies(uri))
    venv = tmp_path / "venv"
    uv = str(VENV_BIN / "uv")
    base = Path(sys.base_prefix) / "bin" / "python3.11"
    sh(uv, "venv", "-q", "--python", str(base), str(venv))
    sh(uv, "pip", "install", "-q", "--python", str(venv / "bin/python"), "-r", str(reqs), *torch_source(base))  # fmt: skip
    client = tmp_path / "client"
    client.mkdir()
    script = (
        "import json, sys, importlib.util, mlflow, pandas as pd\n"
        "assert importlib.util.find_spec('components') is None, 'the project is importable'\n"
        f"m = mlflow.pyfunc.load_model({uri!r})\n"
        "print('PREDICTIONS', json.dumps(m.predict(pd.DataFrame({'text': json.loads(sys.argv[1])}))))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": served_champion["url"],
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    proc = subprocess.run(
        [str(venv / "bin/python"), "-c", script, json.dumps(SERVED_TEXTS)],
        cwd=client,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PREDICTIONS "))
    assert json.loads(line.removeprefix("PREDICTIONS ")) == served_champion["expected"]


def sh(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def torch_source(python: Path) -> list[str]:
    """The Makefile's TORCH_SOURCE: pip's find-links folder when configured, else PyTorch's
    CPU index."""
    found = subprocess.run(
        [str(python), "-m", "pip", "config", "get", "global.find-links"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if found:
        return ["--find-links", found]
    return ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return list(model_input["text"])


def test_the_registered_version_is_a_logged_model_with_its_test_metrics_and_data(store):
    """MLflow 3: the version's LoggedModel names the run that measured it, its metrics are
    tied to the test split by name and DVC md5, and it is linked to the runs that trained and
    chose it."""
    client = mlflow.MlflowClient()
    links, ids = _producing_runs()
    d = Decision(True, "champion", "beats base/full")
    measured = registry.Measured(
        {"test.macro_f1_mean": 0.8, "gate.base/full.delta": 0.1},
        "data/ingested/task/test.jsonl",
        "0123456789abcdef0123456789abcdef",
    )
    with mlflow.start_run() as run:
        version = registry.register(
            lambda: mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=[]),
            NAME, {"candidate": "dapt"}, d, {}, measured, links,
        )  # fmt: skip
    mv = client.get_model_version(NAME, version)
    # The version points at the LoggedModel through its source (the SQLite store leaves
    # ModelVersion.model_id empty).
    assert mv.source.startswith("models:/m-")
    model = mlflow.get_logged_model(mv.source.removeprefix("models:/"))
    assert model.source_run_id == run.info.run_id and model.tags["candidate"] == "dapt"
    got = {m.key: m for m in model.metrics}
    assert got["test.macro_f1_mean"].value == 0.8 and got["gate.base/full.delta"].value == 0.1
    for m in got.values():
        assert (m.dataset_name, m.dataset_digest) == (measured.dataset, measured.digest)
        assert m.run_id == run.info.run_id
    (used,) = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert (used.dataset.name, used.dataset.digest) == (measured.dataset, measured.digest)
    assert model.tags["lineage.mlflow_runs.trained"] == f"{ids['kept']},{ids['bare']}"
    _check_links(client, model.model_id, mv, ids)


def _producing_runs() -> tuple[registry.Producers, dict[str, str]]:
    """A fine-tune stage run with two seeds' nested runs, one without, a compare run."""
    ids = {}
    with mlflow.start_run(run_name="finetune") as ft:
        with mlflow.start_run(run_name="dapt/full/seed0", nested=True):
            pass
        with mlflow.start_run(run_name="dapt/full/seed1", nested=True) as kept:
            pass
    with mlflow.start_run(run_name="finetune") as bare:
        pass
    with mlflow.start_run(run_name="compare") as cmp:
        pass
    for key, run in (("ft", ft), ("kept", kept), ("bare", bare), ("cmp", cmp)):
        ids[key] = run.info.run_id
    links = registry.Producers([ids["ft"], ids["bare"]], [ids["cmp"]], "dapt/full/seed1")
    return links, ids


def _check_links(client, model_id: str, mv, ids: dict[str, str]) -> None:
    """Output of the kept seed's nested fine-tune run (of a stage run without one: the stage
    run itself), input of the compare run; a run the store lacks blocks nothing."""
    outputs = {
        k: [m.model_id for m in client.get_run(ids[k]).outputs.model_outputs]
        for k in ("kept", "bare", "ft")
    }
    assert outputs == {"kept": [model_id], "bare": [model_id], "ft": []}
    assert [m.model_id for m in client.get_run(ids["cmp"]).inputs.model_inputs] == [model_id]
    assert mv.tags["lineage.mlflow_runs.trained"] == f"{ids['kept']},{ids['bare']}"
    assert registry.link_runs(model_id, registry.Producers(["0" * 32], [], None)) == []
