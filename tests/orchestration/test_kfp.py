"""The Kubeflow pipeline compiled by `make kfp` (its own environment: kfp needs kubernetes<31)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import yaml

from components.orchestration.graph import load
from components.orchestration.settings import load_settings
from tests.conftest import ROOT, tool_env

MAKE = shutil.which("make")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    if MAKE is None:
        pytest.skip("make is not installed")
    out = tmp_path_factory.mktemp("kfp") / "domain_adaptation.yaml"
    start = time.perf_counter()
    # `make kfp` creates .venv-kfp when missing (~5 s with a warm uv cache, 55 MB).
    proc = subprocess.run(
        [MAKE, "-s", ".venv-kfp/.installed"],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    # PyPI is reachable wherever the project installs, so a failure here is a real defect.
    assert proc.returncode == 0, f".venv-kfp could not be created: {proc.stderr[-1500:]}"
    proc = subprocess.run(
        [
            str(ROOT / ".venv-kfp/bin/python"),
            "-m",
            "components.orchestration.kfp_pipeline",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=tool_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    print(f"kfp env + compile: {time.perf_counter() - start:.1f} s")
    return yaml.safe_load(out.read_text(encoding="utf-8"))


def test_every_active_stage_is_a_step_with_its_dependencies(compiled):
    graph = load(ROOT / "dvc.yaml").active()
    dag_tasks = compiled["root"]["dag"]["tasks"]
    by_stage = {t["taskInfo"]["name"]: t for t in dag_tasks.values()}
    assert set(by_stage) == set(graph.order)
    for name, task in by_stage.items():
        parents = {dag_tasks[d]["taskInfo"]["name"] for d in task.get("dependentTasks", [])}
        assert parents == set(graph.upstream[name]), name
        # Each parent's dvc.lock entry flows in as an input parameter.
        params = task.get("inputs", {}).get("parameters", {})
        assert {p["taskOutputParameter"]["outputParameterKey"] for p in params.values()} <= {"lock"}
        assert len(params) == len(graph.upstream[name])


def test_training_steps_get_gpu_image_and_limits_and_pretraining_submits_its_trainjob(compiled):
    s = load_settings(ROOT)
    executors = compiled["deploymentSpec"]["executors"]
    trainjob = set(s.params.kubernetes.trainjob_stages) & set(s.params.gpu_stages)
    gpu_stages = [n for n in s.graph.order if n in s.params.gpu_stages and n not in trainjob]
    assert gpu_stages, "no GPU stage in dvc.yaml matches orchestration.gpu_stages"
    assert trainjob & set(s.graph.order), "no pretraining stage runs as a TrainJob"
    for name in s.graph.order:
        container = executors[f"exec-stage-{name.replace('_', '-')}"]["container"]
        # a TrainJob stage's step submits the job the Airflow task submits (trainjob_run.main)
        tool = "trainjob_run" if name in trainjob else "podrun"
        assert container["command"] == ["python", "-m", f"components.orchestration.{tool}"]
        assert container["args"][:2] == ["--stage", name]
        accel = container.get("resources", {}).get("accelerator")
        if name in gpu_stages:
            assert container["image"] == s.params.kubernetes.image_gpu
            assert accel["resourceType"] == s.params.kubernetes.gpu_resource
            assert int(accel["resourceCount"]) == s.params.kubernetes.gpus
        else:
            assert container["image"] == s.params.kubernetes.image_cpu and accel is None
