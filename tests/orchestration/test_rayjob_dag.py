"""The DAG under ``engine: ray`` with ``RAY_ADDRESS`` naming a Ray Jobs API: exactly the Ray
stages' tasks submit Ray jobs (rayjob_submit; tests/orchestration/test_rayjob_submit.py runs
them against a real head); the other stages, and every stage otherwise, run as before."""

from __future__ import annotations

import pytest

from components.execution import RAY_STAGES, ray_job_address
from components.orchestration.settings import load_settings
from tests.conftest import ROOT

JOBS_API = "http://ray-head.dapt.svc:8265"


def test_only_an_http_ray_address_names_the_jobs_api():
    assert ray_job_address({"RAY_ADDRESS": JOBS_API + "/"}) == JOBS_API
    assert ray_job_address({"RAY_ADDRESS": "https://ray.example.com"}) == "https://ray.example.com"
    for cluster in ("ray-head:6379", "ray://ray-head:10001", "auto", ""):
        assert ray_job_address({"RAY_ADDRESS": cluster}) is None, cluster
    assert ray_job_address({}) is None


def _callables(monkeypatch, **env) -> tuple[dict, str]:
    from components.orchestration import airflow_dags

    for name in ("DAPT_ENGINE", "RAY_ADDRESS", "DAPT_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dag = airflow_dags.build_domain_adaptation(load_settings(ROOT), "doc")
    return {t.task_id: getattr(t, "python_callable", None) for t in dag.tasks}, dag.doc_md


def test_the_ray_stages_and_only_they_are_submitted_as_ray_jobs(monkeypatch):
    from components.orchestration.airflow_dags import _ray_job, _stage

    stages = load_settings(ROOT).graph.order
    assert set(RAY_STAGES) <= set(stages)  # the list names real stages of dvc.yaml
    tasks, doc = _callables(monkeypatch, DAPT_ENGINE="ray", RAY_ADDRESS=JOBS_API)
    assert {t for t, f in tasks.items() if f is _ray_job} == set(RAY_STAGES)
    assert all(tasks[n] is _stage for n in stages if n not in RAY_STAGES)
    assert doc.count(f"Ray job at {JOBS_API}") == len(RAY_STAGES)
    # a cluster address (the task's process is the driver), or the local engine: no Ray job
    for env in ({"DAPT_ENGINE": "ray", "RAY_ADDRESS": "ray-head:6379"}, {"RAY_ADDRESS": JOBS_API}):
        tasks, _ = _callables(monkeypatch, **env)
        assert _ray_job not in tasks.values(), env
        assert all(tasks[n] is _stage for n in stages), env


def test_a_worker_without_the_jobs_address_fails_the_task_clearly(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from components.orchestration.airflow_dags import _ray_job

    monkeypatch.setenv("RAY_ADDRESS", "ray-head:6379")
    with pytest.raises(AirflowFailException, match="same http"):
        _ray_job(str(ROOT), "mine", 0)


def test_the_ray_stages_are_the_stages_that_read_the_engine():
    """A stage that reads ``execution.engine`` and is missing from RAY_STAGES would call
    ``ray.init`` with the Jobs API's http address inside its Airflow task."""
    readers = {
        p.parent.name
        for p in (ROOT / "components").glob("*/stage.py")
        if "load_execution" in p.read_text(encoding="utf-8")
    }
    assert readers == set(RAY_STAGES)
