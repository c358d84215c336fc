"""A throwaway DVC project with stages that succeed, fail on input or parameters, or crash."""

import os
import subprocess
import tempfile

import pytest
import yaml

from tests.conftest import tool_env

# Airflow binds its home at first import: keep it out of ~/airflow and the project.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "params.yaml").write_text("profile: smoke\n", encoding="utf-8")
    stages = {
        "ok": {"cmd": "echo ok > ok.txt", "outs": ["ok.txt"]},
        "bad_input": {"cmd": "exit 1", "outs": ["a.txt"]},
        "bad_params": {"cmd": "exit 2", "outs": ["b.txt"]},
        "crash": {"cmd": "exit 3", "outs": ["c.txt"]},
        "missing": {"cmd": "cp nowhere.txt d.txt", "deps": ["nowhere.txt"], "outs": ["d.txt"]},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}), encoding="utf-8")
    env = tool_env()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True, env=env)
    return root
