"""Tracking against a real MLflow server (tests/mlflow_server.py): a stage run's artifacts go to
the server's store, and the registered champion loads from anywhere with the worker's disk gone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from components.config import TrackingParams
from components.tracking import artifact_location
from tests.conftest import SERVED_TEXTS, tool_env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mlflow_server")]


def test_artifact_location_local_store_keeps_the_folder_a_server_keeps_its_own(tmp_path):
    local = TrackingParams()
    assert artifact_location(local, tmp_path, "sqlite:////x/mlflow.db") == (
        (tmp_path / ".mlflow/artifacts").resolve().as_uri()
    )
    assert artifact_location(local, tmp_path, "http://mlflow.example:5000") is None
    assert artifact_location(local, tmp_path, "https://mlflow.example") is None
    s3 = TrackingParams(mlflow_artifacts="s3://bucket/dapt")
    assert artifact_location(s3, tmp_path, "http://mlflow.example:5000") == "s3://bucket/dapt"


def test_champion_registered_on_a_server_loads_elsewhere_without_the_workers_disk(
    served_champion, tmp_path
):
    s = served_champion
    # The experiment our tracking code created uses the server's proxied store...
    assert s["artifact_location"].startswith("mlflow-artifacts:"), s["artifact_location"]
    assert list(s["store"].rglob("model.safetensors"))
    # ...and nothing was written to the worker's project folder (no local store, no artifacts).
    assert not (s["project"] / ".mlflow").exists()
    shutil.rmtree(s["project"])  # the worker's disk is gone: only the server has the model

    elsewhere = tmp_path / "client"
    elsewhere.mkdir()
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/demo-classifier@champion')\n"
        "print('PREDICTIONS', json.dumps(m.predict(pd.DataFrame({'text': json.loads(sys.argv[1])}))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(SERVED_TEXTS)],
        cwd=elsewhere,
        env=tool_env(MLFLOW_TRACKING_URI=s["url"]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PREDICTIONS "))
    assert json.loads(line.removeprefix("PREDICTIONS ")) == s["expected"]
