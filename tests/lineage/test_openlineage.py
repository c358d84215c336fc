"""OpenLineage events of stage runs and registration, on a tiny DVC project (four shell stages).

The events are built by the real emitter (components/lineage/emit.py) after a real ``dvc
repro``, sent through the default file transport, read back from reports/lineage/ and
validated against the vendored OpenLineage spec. The smoke pipeline's own events are checked in
tests/dags/test_domain_adaptation.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.lineage import emit, events
from components.lineage import openlineage as ol
from tests.lineage.schema import validate

DVC_YAML = {
    "stages": {
        "a": {
            "cmd": "mkdir -p out/a && cp raw/a.txt out/a/x.txt && echo y > out/a/y.txt",
            "deps": ["raw/a.txt"],
            "params": ["domain.name"],
            "outs": ["out/a"],
        },
        "b": {"cmd": "cp raw/b.txt out/b.txt", "deps": ["raw/b.txt"], "outs": ["out/b.txt"]},
        "c": {
            "cmd": "cat out/a/x.txt out/b.txt > out/c.txt",
            "deps": ["out/a/x.txt", "out/b.txt"],
            "outs": ["out/c.txt"],
        },
        "d": {"cmd": "cat out/b.txt > out/d.txt", "deps": ["out/b.txt"], "outs": ["out/d.txt"]},
    }
}
RAW = {"a", "b"}


def _project(root: Path) -> Path:
    (root / "raw").mkdir(parents=True)
    (root / "out").mkdir()
    for name in RAW:
        (root / f"raw/{name}.txt").write_text(f"{name} 1\n", "utf-8")
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML), "utf-8")
    (root / "params.yaml").write_text(yaml.safe_dump({"domain": {"name": "demo"}}), "utf-8")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=test"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "tiny"], cwd=root, check=True)
    return root


def _repro_and_emit(root: Path) -> None:
    """dvc repro, then each stage's COMPLETE as the stage process would send it."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.reproduce()
    for stage in DVC_YAML["stages"]:
        run = emit.StageRun(root, stage, ["sh", "-c", DVC_YAML["stages"][stage]["cmd"]])
        emit.send(root, run.event(ol.RunState.COMPLETE, 0))
        emit._CURRENT.clear()  # each stage runs in a process of its own


def _latest_versions(evs: list[dict]) -> dict[str, str]:
    """dataset name -> the version the latest COMPLETE events give it (inputs and outputs)."""
    seen: dict[str, str] = {}
    for e in events.completed(evs):
        for ds in [*e["inputs"], *e["outputs"]]:
            seen[ds["name"]] = events.version(ds)
    return seen


@pytest.fixture
def project(tmp_path, monkeypatch) -> Iterator[Path]:
    for var in list(os.environ):
        if var.startswith("OPENLINEAGE") or var in {"DVC_STAGE", "DVC_ROOT"}:
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.openlineage/openlineage.yml of the user
    monkeypatch.setattr(emit, "_CURRENT", {})
    monkeypatch.setenv(
        emit.PARENT_ENV, "airflow/domain_adaptation.a/0190d5a4-8a4e-7c3e-9a6e-1d2f3a4b5c6d"
    )
    root = _project(tmp_path / "p")
    monkeypatch.chdir(root)  # where DVC runs stage commands
    yield root
    # The OpenLineage client turns OPENLINEAGE_URL into OPENLINEAGE__TRANSPORT__* variables of
    # this process itself, behind monkeypatch's back: left there, every later stage run in this
    # test session would send its events to that (unreachable) URL instead of the files.
    for var in list(os.environ):
        if var.startswith("OPENLINEAGE"):
            del os.environ[var]


def test_events_validate_carry_dvc_lock_hashes_connect_and_version_only_descendants(project):
    _repro_and_emit(project)
    evs = events.read(project)
    assert [e["job"]["name"] for e in evs] == list(DVC_YAML["stages"])
    for e in evs:
        validate(e)
        assert e["job"]["namespace"] == "dapt-demo"
        assert e["run"]["facets"]["parent"]["job"]["name"] == "domain_adaptation.a"
        assert len(e["run"]["facets"]["dapt"]["gitCommit"]) == 40
    assert evs[0]["run"]["facets"]["dapt"]["params"] == {"profile": "demo", "domain.name": "demo"}

    # Every hash in a dvc facet is the one dvc.lock records for that stage's dep or out; the
    # file inside out/a that stage c reads is an output of a (its own dataset) with c's hash.
    lock = yaml.safe_load((project / "dvc.lock").read_text("utf-8"))["stages"]
    locked = {(s, d["path"]): d["md5"] for s, st in lock.items() for d in st["deps"] + st["outs"]}
    checked = 0
    for e in evs:
        for ds in e["inputs"] + e["outputs"]:
            facet = ds["facets"]["dvc"]
            owner = e["job"]["name"] if not facet.get("inside") else "c"
            assert facet["md5"] == locked[(owner, ds["name"])], ds["name"]
            assert ds["namespace"] == "dvc://dapt-demo"
            checked += 1
    assert checked == len(locked) + 1  # + out/a/x.txt as a's output

    # One connected graph: out/c.txt comes from both raw inputs, through out/a/x.txt.
    assert events.ancestors(evs, ("dvc://dapt-demo", "out/c.txt")) == {
        ("dvc://dapt-demo", p) for p in ("out/a/x.txt", "out/b.txt", "raw/a.txt", "raw/b.txt")
    }

    before = _latest_versions(evs)
    (project / "raw/a.txt").write_text("a 2\n", "utf-8")
    _repro_and_emit(project)
    after = _latest_versions(events.read(project))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"raw/a.txt", "out/a", "out/a/x.txt", "out/c.txt"}


def test_a_stage_failing_on_bad_input_emits_start_then_fail_with_the_error(project, monkeypatch):
    from components.cli import main

    monkeypatch.setenv("DVC_STAGE", "c")
    monkeypatch.setenv("DVC_ROOT", str(project))
    monkeypatch.chdir(project)
    code = main(
        [
            "newwords",
            "--corpus",
            "missing.jsonl",
            "--out",
            "out/words",
            "--no-mlflow",
            "--no-validated-check",
        ]
    )
    assert code == 1
    start, fail = events.read(project)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert start["run"]["runId"] == fail["run"]["runId"] and fail["job"]["name"] == "c"
    assert "missing.jsonl: file does not exist" in fail["run"]["facets"]["errorMessage"]["message"]
    assert fail["run"]["facets"]["dapt"]["exitCode"] == 1
    for e in (start, fail):
        validate(e)


def test_registration_emits_the_model_version_with_the_gate_decision(project):
    _repro_and_emit(project)
    gate = {
        "promote": True,
        "alias": "champion",
        "reason": "beats the baseline",
        "candidate": "x/y",
    }
    emit.registration(project, "c", "demo-clf", "3", gate, "http://mlflow.example:5000")
    assert len(events.read(project)) == 4  # not run as a stage by DVC: nothing sent
    stage = emit.StageRun(project, "c", ["dapt", "register"])  # what `dapt` does under DVC
    emit.registration(project, "c", "demo-clf", "3", gate, "http://mlflow.example:5000")
    evs = events.read(project)
    start, done = evs[-2:]
    for e in (start, done):
        validate(e)
        assert e["run"]["facets"]["parent"]["run"]["runId"] == stage.run_id
    (model,) = done["outputs"]
    assert (model["namespace"], model["name"]) == (
        "mlflow://mlflow.example:5000",
        "models:/demo-clf/3",
    )
    assert model["facets"]["gate"]["alias"] == "champion" and model["facets"]["gate"]["promote"]
    raw = {("dvc://dapt-demo", "raw/a.txt"), ("dvc://dapt-demo", "raw/b.txt")}
    assert raw <= events.ancestors(evs, events.key(model), "3")

    tree = events.model_tree(evs, "demo-clf", "3")
    assert tree["stage"] == ol.REGISTER_JOB
    (x, b) = tree["inputs"]
    assert x["stage"] == "a" and x["inputs"][0]["path"] == "raw/a.txt"
    assert b["stage"] == "b" and b["md5"] == done["inputs"][1]["facets"]["dvc"]["md5"]
    # The runs that wrote exactly the versions c reads now (register's MLflow links use this).
    read = {("dvc://dapt-demo", p): v for p, v in emit.consumed(project, "c").items()}
    assert set(events.producing_runs(evs, read)) == {"a", "b"}
    (project / "raw/b.txt").write_text("b 2\n", "utf-8")
    _repro_and_emit(project)
    emit._CONSUMED.clear()  # a new process: the new versions
    read = {("dvc://dapt-demo", p): v for p, v in emit.consumed(project, "c").items()}
    evs = events.read(project)
    b_runs = [e["run"]["runId"] for e in events.completed(evs) if e["job"]["name"] == "b"]
    assert len(b_runs) == 2
    made = events.producers(evs)
    assert (
        made[("dvc://dapt-demo", "out/b.txt", read[("dvc://dapt-demo", "out/b.txt")])]["run"][
            "runId"
        ]
        == b_runs[-1]
    )


def test_standard_configuration_replaces_the_file_default(project, monkeypatch):
    monkeypatch.chdir(project)
    assert emit.client(project).transport.kind == "file"
    # Airflow's [openlineage] transport, unless it writes files (ours stay in reports/lineage).
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", '{"type": "file", "log_file_path": "x"}')
    assert emit.client(project).transport.kind == "file"
    assert emit.client(project).transport.config.log_file_path.endswith("reports/lineage/event")
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", '{"type": "console"}')
    assert emit.client(project).transport.kind == "console"
    monkeypatch.delenv("AIRFLOW__OPENLINEAGE__TRANSPORT")
    monkeypatch.setenv("OPENLINEAGE_URL", "http://marquez.example:5000")
    assert emit.client(project).transport.kind == "http"
    monkeypatch.delenv("OPENLINEAGE_URL")
    (project / "openlineage.yml").write_text("transport:\n  type: console\n", "utf-8")
    assert emit.client(project).transport.kind == "console"


def test_a_stage_in_a_pod_sends_its_events_through_the_pod_spec_parented_to_the_pod_task(
    project, monkeypatch, tmp_path
):
    """The pod spec's environment, rendered as Airflow renders it, is all the in-pod stage
    gets: its events go to the transport params name (not the pod's own files, which vanish
    with it), their parent is the pod task's run as the OpenLineage provider's task event
    names it, and they validate."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    import jinja2
    from airflow.providers.openlineage.plugins.macros import lineage_run_id

    from components.orchestration.airflow_dags import lineage_parent
    from components.orchestration.params import KubernetesParams
    from components.orchestration.pods import pod_spec

    collector = tmp_path / "collector"
    collector.mkdir()
    transport = {"type": "file", "log_file_path": str(collector / "event")}  # a file per event
    spec = pod_spec("c", KubernetesParams(lineage_transport=transport))
    run = SimpleNamespace(logical_date=datetime(2026, 12, 1, tzinfo=UTC), clear_number=0)
    ti = SimpleNamespace(dag_id="domain_adaptation", task_id="c", try_number=1, map_index=-1,
                         dag_run=run, get_template_context=dict)  # fmt: skip
    monkeypatch.delenv(emit.PARENT_ENV)
    for key, value in spec["env_vars"].items():
        if key != "DAPT_POD_INPUT":  # the prepare task's XCom: podrun's business
            rendered = jinja2.Template(value).render(ti=ti, dapt_lineage_parent=lineage_parent)
            monkeypatch.setenv(key, rendered)
    from dvc.repo import Repo

    stage = emit.StageRun(project, "c", ["dapt", "c"])  # what `dapt` does when DVC runs it
    stage.start()
    with Repo(str(project)) as repo:
        repo.reproduce("c")
    stage.end(0, None)
    assert not (project / emit.EVENTS_DIR).exists()  # nothing left in the pod
    import json

    start, done = [json.loads(f.read_text("utf-8")) for f in sorted(collector.glob("*.json"))]
    assert (start["eventType"], done["eventType"]) == ("START", "COMPLETE")
    for e in (start, done):
        validate(e)
        parent = e["run"]["facets"]["parent"]
        assert (parent["job"]["namespace"], parent["job"]["name"]) == (
            "default",
            "domain_adaptation.c",
        )
        assert parent["run"]["runId"] == lineage_run_id(ti)  # the provider's task run
    assert {d["name"] for d in done["outputs"]} == {"out/c.txt"}
    assert done["outputs"][0]["facets"]["dvc"]["md5"]
