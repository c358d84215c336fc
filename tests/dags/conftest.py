"""One scratch copy of the project with its own Airflow home (SQLite), shared by the DAG tests.

Airflow binds AIRFLOW_HOME at import, so every Airflow run here is a subprocess with its own
environment: the real workspace and ~/airflow are never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, copy_project, tool_env

# Debugging aid: DAPT_TEST_STAGES=ingest,validate runs the DAG tests on that part of dvc.yaml
# only (e.g. while a downstream stage is being written). Unset: the whole graph.
ONLY = [s for s in os.environ.get("DAPT_TEST_STAGES", "").split(",") if s]


@dataclass
class AirflowProject:
    root: Path
    env: dict[str, str]

    def dagtest(self, dag_id: str, *args: str, timeout: int = 900) -> dict:
        out = self.root.parent / f"dagtest-{dag_id}.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "components.orchestration.dagtest",
                dag_id,
                "--json",
                str(out),
                *args,
            ],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(out.read_text(encoding="utf-8"))

    def forget_queued_runs(self, dag_id: str) -> None:
        """Drop the asset-triggered run an event queued for ``dag_id``. A live scheduler creates
        that run at once; here nothing does, and Airflow dates a run by its queue entry, which is
        not renewed by later events: a run created later would consume only the events up to the
        first one. Tests that leave an event behind call this."""
        code = (
            "from airflow.models.asset import AssetDagRunQueue as Q\n"
            "from airflow.utils.session import create_session\n"
            "with create_session() as s:\n"
            f"    s.query(Q).filter(Q.target_dag_id == {dag_id!r}).delete()\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]


def airflow_env(root: Path, home: Path) -> dict[str, str]:
    return tool_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(root / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        # As a deployment that uses the hand-off does: an asset event queues a run of an
        # unpaused consumer only.
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        DAPT_PROJECT_ROOT=str(root),
        PYTHONPATH=str(ROOT),
    )


def migrate(root: Path, env: dict[str, str]) -> None:
    """``airflow db migrate`` on the SQLite home named in ``env`` (needed before ``dags test``)."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def airflow_project(tmp_path_factory: pytest.TempPathFactory) -> AirflowProject:
    base = tmp_path_factory.mktemp("airflow")
    root = copy_project(base / "project", profile="smoke")
    # The workspace's dvc.lock (if any) describes outputs this copy does not have.
    (root / "dvc.lock").unlink(missing_ok=True)
    if ONLY:
        dvc_yaml = root / "dvc.yaml"
        data = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))
        data["stages"] = {k: v for k, v in data["stages"].items() if k in ONLY}
        dvc_yaml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    env = airflow_env(root, base / "airflow-home")
    migrate(root, env)
    return AirflowProject(root, env)
