"""End-to-end: the domain_adaptation DAG runs every stage of dvc.yaml through DVC (smoke profile)."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import mlflow
import pytest
import yaml

from components.lineage import events as ol_events
from components.orchestration.graph import load
from tests.lineage.schema import validate as validate_event

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("airflow")]


def _check_openlineage(root, env: dict, gate: dict) -> None:
    """The events of every stage run and of registration (docs/lineage.md): all valid against
    the OpenLineage spec; the registered version derives from every raw data input through
    them; each stage's latest COMPLETE carries the hashes dvc.lock records."""
    evs = ol_events.read(root)
    for e in evs:
        validate_event(e)
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    produced = {o["path"] for st in lock.values() for o in st["outs"]}
    raw = {
        d["path"]
        for name, st in lock.items()
        for d in st["deps"]
        if name != "report" and d["path"] not in produced and not d["path"].startswith("components")
    }
    assert {"data/samples", "models/base-zh-tiny"} <= raw
    model = f"models:/{gate['model']}/{gate['version']}"
    (target,) = {
        ol_events.key(ds)
        for e in ol_events.completed(evs)
        for ds in e["outputs"]
        if ds["name"] == model
    }
    found = {name for _, name in ol_events.ancestors(evs, target, str(gate["version"]))}
    assert raw <= found, raw - found
    # Stage runs are children of their Airflow task runs; registration of the register stage run.
    for e in evs:
        parent = e["run"]["facets"]["parent"]["job"]["name"]
        job = e["job"]["name"]
        assert parent == (
            "register" if job == "register.model_version" else f"domain_adaptation.{job}"
        )
    shown = subprocess.run(
        ["dapt", "lineage", model], cwd=root, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "hashes from OpenLineage events" in shown and "data/samples  md5=" in shown, shown
    latest = {e["job"]["name"]: e for e in ol_events.completed(evs)}
    assert set(lock) <= set(latest)
    for name, entry in lock.items():
        for side, datasets in (("deps", latest[name]["inputs"]), ("outs", latest[name]["outputs"])):
            locked = {d["path"]: d["md5"] for d in entry[side]}
            for ds in datasets:
                if not ds["facets"]["dvc"].get("inside"):
                    assert ds["facets"]["dvc"]["md5"] == locked[ds["name"]], (name, ds["name"])


def _returns(run: dict, stages: list[str]) -> dict[str, dict]:
    return {s: run["tasks"][s]["return"] for s in stages}


def test_runs_all_stages_then_skips_then_retrains_on_a_delivery_and_retries_only_what_failed(
    airflow_project,
):
    root = airflow_project.root
    stages = load(root / "dvc.yaml").active().order  # frozen stages never run
    # Every stage command leaves a trace, so we count real executions, not just task states.
    dvc_yaml = root / "dvc.yaml"
    data = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))
    for name in stages:
        data["stages"][name]["cmd"] = f"echo {name} >> .stage-runs && {data['stages'][name]['cmd']}"
    dvc_yaml.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    runs_log = root / ".stage-runs"

    first, second = airflow_project.dagtest("domain_adaptation", "--runs", "2")["runs"]
    assert first["state"] == "success", first
    assert set(first["tasks"]) == {*stages, "dvc_push"}
    assert all(t["state"] == "success" for t in first["tasks"].values()), first
    assert all(r["ran"] for r in _returns(first, stages).values()), first
    assert Counter(runs_log.read_text().split()) == dict.fromkeys(stages, 1)
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    assert set(lock["stages"]) == set(stages)
    assert first["tasks"]["dvc_push"]["return"] > 0  # outputs reached the DVC remote

    # Nothing changed: DVC skips every stage and dvc.lock is untouched.
    assert second["state"] == "success", second
    assert not any(r["ran"] for r in _returns(second, stages).values()), second
    assert Counter(runs_log.read_text().split()) == dict.fromkeys(stages, 1)
    assert yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8")) == lock

    # Plain `dvc repro` on the same workspace agrees: every stage is up to date (an on-demand
    # stage in the root dvc.yaml, even frozen, would fail here on its missing outputs).
    cli = subprocess.run(
        ["dvc", "repro"], cwd=root, env=airflow_project.env, capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr[-2000:]
    assert "Running stage" not in cli.stdout and "up to date" in cli.stdout

    # A new delivery: corpus_handoff versions it into the pipeline's inputs and updates the
    # asset; the run the asset event queues (created as the scheduler creates it) re-runs ingest
    # and everything after it, and registers a model whose lineage names the delivery. Its last
    # stage fails on the first attempt: Airflow retries only that task.
    sample = (root / "data/samples/general/clue_corpus_small_sample.txt").read_text("utf-8")
    drop = root / "data/incoming"
    drop.mkdir(parents=True, exist_ok=True)
    (drop / "batch-new.txt").write_text("\n".join(sample.splitlines()[1000:1300]) + "\n", "utf-8")
    (handoff,) = airflow_project.dagtest("corpus_handoff")["runs"]
    assert handoff["state"] == "success", handoff
    delivered = handoff["tasks"]["version_delivery"]["return"]

    last = stages[-1]
    data["stages"][last]["cmd"] = (
        "echo try >> .tries-last && { test -e .failed-once || { touch .failed-once; exit 3; }; } && "
        + data["stages"][last]["cmd"]
    )
    dvc_yaml.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (third,) = airflow_project.dagtest("domain_adaptation", "--asset-triggered")["runs"]
    assert third["run_type"] == "asset_triggered" and third["state"] == "success", third
    assert third["consumed_asset_events"][-1]["md5"] == delivered["md5"]
    ran = {s for s in stages if third["tasks"][s]["return"]["ran"]}
    assert {"ingest", "finetune", "register", last} <= ran, ran  # retrained on the delivery
    assert third["tasks"][last]["try_number"] == 2
    assert (root / ".tries-last").read_text().split() == ["try", "try"]
    assert all(third["tasks"][s]["try_number"] == 1 for s in stages[:-1])
    # What ran, ran once in this run: the retry re-executed nothing upstream.
    assert Counter(runs_log.read_text().split()) == {s: 1 + (s in ran) for s in stages}
    gate = json.loads((root / "reports/gate.json").read_text(encoding="utf-8"))
    assert gate["registered"], gate
    mlflow.set_tracking_uri(f"sqlite:////{str(root).lstrip('/')}/.mlflow/mlflow.db")
    tags = mlflow.MlflowClient().get_model_version(gate["model"], gate["version"]).tags
    assert tags["dvc:data/samples/deliveries"] == delivered["md5"]
    _check_openlineage(root, airflow_project.env, gate)

    # Bad input is not transient: a stage command exiting 1 fails its task without a retry.
    data["stages"]["ingest"]["cmd"] = "echo 'error: bad input' >&2; exit 1"
    dvc_yaml.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (fourth,) = airflow_project.dagtest("domain_adaptation")["runs"]
    assert fourth["state"] == "failed"
    assert fourth["tasks"]["ingest"]["state"] == "failed"
    assert fourth["tasks"]["ingest"]["try_number"] == 1
    assert fourth["tasks"][stages[1]]["state"] == "upstream_failed"
