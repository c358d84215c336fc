"""Shared fixtures: the project root, a scratch copy of the project, tool environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# Stage commands run as subprocesses: with bytecode caching off each one recompiles torch,
# transformers and mlflow (one smoke pretraining stage: 12.7 of 33 s compiling), which dominates
# the pipeline tests.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# Under xdist every worker (and every stage it starts) would open one OpenMP/BLAS thread per
# core: 2 workers on 2 cores spent 26.6 CPU-minutes on what 18.7 did serially, mostly spin-waits.
# Split the cores between workers instead; subprocesses inherit it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _share = (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, str(max(1, _share)))


def tool_env(**extra: str) -> dict[str, str]:
    """Environment for subprocesses: the venv first on PATH, no inherited MLflow override."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MLFLOW_TRACKING_URI", "DAPT_PARENT_RUN_ID"}
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def copy_project(dest: Path, *, profile: str = "smoke") -> Path:
    """Copy the tracked (and untracked, not ignored) project files into ``dest`` as a new git repo.

    End-to-end tests run DVC/MLflow there, so the real workspace is never touched.
    """
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    # The active profile is run configuration (profile.yaml, git-ignored): not in the commit.
    (dest / "profile.yaml").write_text(f"profile: {profile}\n", encoding="utf-8")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=test"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    return dest


@pytest.fixture(autouse=True)
def _no_inherited_tracking_uri(monkeypatch):
    """mlflow.set_tracking_uri() also exports MLFLOW_TRACKING_URI: without this, the store of
    one test would look like a user's override to the next."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # undo restores the state before the test
    yield
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri(None)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


# Metric names that measure time or memory, not results: they differ between any two runs.
TIMING = re.compile(r"second|per_s|_s$|mfu|rss|throughput|peak_flops|^time|elapsed|latency")


def drop_timing(obj):
    """``obj`` (parsed metrics) without its TIMING keys, at any depth."""
    if isinstance(obj, dict):
        return {k: drop_timing(v) for k, v in obj.items() if not TIMING.search(str(k))}
    if isinstance(obj, list):
        return [drop_timing(v) for v in obj]
    return obj


def domain_section(inputs: str = "raw", **over) -> dict:
    """A valid ``domain`` section for scratch projects (tests write their own params.yaml)."""
    section = {
        "name": "demo",
        "lang": "zh",
        "inputs": inputs,
        "base_model": "models/base",
        "corpus": [{"path": f"{inputs}/domain.txt"}],
        "general": [{"path": f"{inputs}/general.txt"}],
        "task": None,
    }
    return {**section, **over}


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """A real ``mlflow server`` on 127.0.0.1 serving its own artifact store (one per session)."""
    from tests.mlflow_server import mlflow_server as start

    with start(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray (2 CPUs) for every ``ray`` test of the session: starting it costs ~20 s on a
    busy 2-core machine. Token auth off: a throwaway cluster of this process only. The stages'
    ``ray_session`` finds it running and leaves it up."""
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ.pop("RAY_ADDRESS", None)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # keeps pytest output readable
    yield ray
    ray.shutdown()


SERVED_TEXTS = ["高血压患者需要检查", "孕妇及哺乳期", "年满十八周岁"]


@pytest.fixture(scope="session")
def served_champion(mlflow_server, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A classifier registered as ``demo-classifier@champion`` on ``mlflow_server`` by a stage run
    of a scratch project (MLFLOW_TRACKING_URI names the server), with the predictions the
    fine-tuned folder itself gives for SERVED_TEXTS."""
    import mlflow
    import yaml
    from mlflow.pyfunc import PythonModelContext
    from transformers import AutoTokenizer

    from components.evaluate import registry
    from components.evaluate.gate import Decision
    from components.evaluate.params import GateParams
    from components.finetune.core import build_classifier, save_classifier
    from components.finetune.params import FinetuneParams
    from components.serving.pyfunc import TextClassifier
    from components.tracking import stage_run
    from tests.finetune.tiny import LABELS, build_backbone

    proj = tmp_path_factory.mktemp("served") / "project"
    backbone = build_backbone(proj / "models/base")
    (proj / "params.yaml").write_text(yaml.safe_dump({"domain": domain_section()}), "utf-8")
    p = FinetuneParams(max_len=32, pooling="mean")
    model_dir = proj / "models/classifier"
    tok = AutoTokenizer.from_pretrained(backbone)
    save_classifier(
        build_classifier(backbone, "full", LABELS, p), tok, "full", model_dir, p, backbone, LABELS
    )
    local = TextClassifier()
    local.load_context(PythonModelContext(artifacts={"model_dir": str(model_dir)}, model_config={}))
    decision = Decision(True, "champion", "champion: registered by the test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        mp.delenv("DAPT_PARENT_RUN_ID", raising=False)
        mp.chdir(proj)
        try:
            with stage_run("register", GateParams(), root=proj) as run:
                version = registry.register(
                    lambda: registry.log_classifier(model_dir, SERVED_TEXTS[:1]),
                    "demo-classifier",
                    {"candidate": "base", "strategy": "full"},
                    decision,
                    {},
                )
            exp = mlflow.get_experiment(run.info.experiment_id)
        finally:
            mlflow.set_tracking_uri(None)
    return {
        "url": mlflow_server.url,
        "store": mlflow_server.store,
        "project": proj,
        "version": version,
        "artifact_location": exp.artifact_location,
        "expected": local.predict(None, SERVED_TEXTS),
    }
