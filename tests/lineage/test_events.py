"""Reading MLflow run ids back from the stage events (pure, milliseconds)."""

from __future__ import annotations

from components.lineage import events


def _event(job: str, state: str, runs: list[str], t: str) -> dict:
    facets = {"dapt": {"mlflowRunIds": runs}}
    return {"eventType": state, "eventTime": t, "job": {"name": job}, "run": {"facets": facets}}


def test_mlflow_runs_come_from_the_latest_complete_run_of_the_job():
    evs = [
        _event("finetune", "COMPLETE", ["old"], "2026-01-01"),
        _event("finetune", "COMPLETE", ["r1", "r2"], "2026-01-02"),
        _event("finetune", "FAIL", ["failed"], "2026-01-03"),
        _event("compare", "START", ["c"], "2026-01-02"),
    ]
    assert events.mlflow_runs(evs, "finetune") == ["r1", "r2"]
    assert events.mlflow_runs(evs, "compare") == []  # started, never completed
    assert events.mlflow_runs(evs, "register") == []
