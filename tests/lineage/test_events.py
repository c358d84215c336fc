"""Reading MLflow run ids back from the stage events (pure, milliseconds)."""

from __future__ import annotations

from components.lineage import events

NS = "dvc://dapt-t"


def _event(job: str, state: str, runs: list[str], t: str, wrote: dict[str, str]) -> dict:
    facets = {"dapt": {"mlflowRunIds": runs}}
    outs = [
        {"namespace": NS, "name": p, "facets": {"version": {"datasetVersion": v}}}
        for p, v in wrote.items()
    ]
    return {
        "eventType": state,
        "eventTime": t,
        "job": {"name": job},
        "run": {"facets": facets},
        "outputs": outs,
    }


def test_the_runs_named_are_those_that_wrote_the_exact_versions_read_not_the_latest():
    evs = [
        _event("finetune", "COMPLETE", ["r1", "r2"], "2026-01-01", {"models/finetune": "a.dir"}),
        _event("finetune", "COMPLETE", ["later"], "2026-01-02", {"models/finetune": "b.dir"}),
        _event("finetune", "FAIL", ["failed"], "2026-01-03", {"models/finetune": "a.dir"}),
        _event("compare", "COMPLETE", ["c1"], "2026-01-02", {"reports/evaluation": "e.dir"}),
        _event("compare", "START", ["c2"], "2026-01-03", {"reports/evaluation": "f.dir"}),
    ]
    read = {
        (NS, "models/finetune"): "a.dir",
        (NS, "reports/evaluation"): "e.dir",
        (NS, "data/ingested/task/test.jsonl"): "t",  # written by no event: names no run
    }
    assert events.producing_runs(evs, read) == {"finetune": ["r1", "r2"], "compare": ["c1"]}
    # A version only a started (never completed) run touched, or no version at all: no run.
    assert events.producing_runs(evs, {(NS, "reports/evaluation"): "f.dir"}) == {}
    assert events.producing_runs(evs, {(NS, "models/finetune"): ""}) == {}
    assert events.producing_runs(evs, {("dvc://other", "models/finetune"): "a.dir"}) == {}
