"""TrainJobs for pretraining: the manifest against the Kubeflow Trainer CRD schema, and submit /
poll / logs against recorded API responses through the real kubernetes client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.config import load_section
from components.orchestration.params import KubernetesParams
from components.orchestration.podrun import load_secret_env
from components.orchestration.trainjob import (
    NODE_CONTAINER,
    SECRET_MOUNT,
    trainjob_manifest,
    trainjob_name,
    validate,
)
from components.orchestration.trainjob_run import (
    TrainJobFailed,
    job_state,
    lock_entry,
    run_stage_job,
    run_trainjob,
)
from tests.conftest import ROOT
from tests.orchestration.k8s_replay import FIXTURES, Replay, fixture

CRD = Path(__file__).parent / "schemas" / "kubeflow-trainer" / "trainer.kubeflow.org_trainjobs.yaml"
JOBS = "/apis/trainer.kubeflow.org/v1alpha1/namespaces/dapt/trainjobs"
NAME = "dapt-dapt-run42"
POD = "dapt-dapt-run42-node-0-0-x7k2p"
COMMAND = ["python", "-m", "components.orchestration.podrun", "--stage", "dapt", "--print-lock"]


@pytest.fixture(scope="module")
def crd():
    return yaml.safe_load(CRD.read_text(encoding="utf-8"))


def _full_profile_job(name: str = NAME) -> dict:
    pre = load_section("pretrain", ROOT / "params.yaml", profile="full")
    orch = load_section("orchestration", ROOT / "params.yaml", profile="full")
    dist = pre.distributed
    return trainjob_manifest(
        "dapt",
        COMMAND,
        orch.kubernetes,
        nodes=dist.nnodes,
        procs_per_node=dist.nproc_per_node,
        name=name,
    )


def test_full_profile_trainjob_validates_against_the_crd(crd):
    job = _full_profile_job()
    assert validate(job, crd) == []
    spec, k8s = job["spec"], KubernetesParams()
    assert spec["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
        "name": "torch-distributed",
    }
    trainer = spec["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (1, 8)
    assert trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == "8"  # one GPU per process
    assert trainer["image"] == k8s.image_gpu and trainer["command"] == COMMAND
    (rjob,) = spec["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    pod = rjob["template"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == k8s.node_selector
    assert pod["tolerations"] == k8s.tolerations
    assert pod["serviceAccountName"] == k8s.service_account
    assert pod["volumes"][0]["secret"]["secretName"] == k8s.env_from_secret
    (node,) = pod["containers"]
    assert node["name"] == NODE_CONTAINER and node["volumeMounts"][0]["mountPath"] == SECRET_MOUNT
    assert {"name": "DAPT_SECRET_ENV_DIR", "value": SECRET_MOUNT} in trainer["env"]


def test_two_nodes_validate_and_the_schema_catches_bad_jobs(crd):
    k8s = KubernetesParams(dvc_remote="s3://bucket/dvc", env_from_secret="")
    job = trainjob_manifest("tapt_only", COMMAND, k8s, nodes=2, procs_per_node=4)
    assert job["metadata"]["name"] == "dapt-tapt-only"
    assert validate(job, crd) == []
    assert "volumes" not in json.dumps(job)  # no secret: nothing mounted
    bad = json.loads(json.dumps(job))
    bad["metadata"]["name"] = "Dapt_Tapt"
    bad["spec"]["trainer"]["numProcPerNode"] = 0
    bad["spec"]["trainer"]["resourcesPerNode"]["limits"]["nvidia.com/gpu"] = "four"
    bad["spec"]["runtimePatches"][0].pop("manager")
    del bad["spec"]["runtimeRef"]
    problems = "\n".join(validate(bad, crd))
    for expected in (
        "metadata.name: must match RFC 1035",
        "numProcPerNode: must be greater than or equal to 1",
        "nvidia.com/gpu: 'four' does not match",
        "'manager' is a required property",
        "'runtimeRef' is a required property",
    ):
        assert expected in problems, problems
    with pytest.raises(ValueError, match="PET_NODE_RANK"):
        trainjob_manifest("dapt", COMMAND, k8s, nodes=1, procs_per_node=1, env={"PET_NODE_RANK": "0"})  # fmt: skip
    assert len(trainjob_name("dapt", "manual__2025-06-02T09:14:03.123456+00:00" * 2)) <= 63


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("trainjob-*.json")))
def test_recorded_trainjobs_are_valid_trainjobs(crd, name):
    assert validate(json.loads((FIXTURES / name).read_text()), crd) == []


def test_states_of_the_recorded_responses():
    states = [
        job_state(json.loads((FIXTURES / f"trainjob-{n}.json").read_text()))[0]
        for n in ("created", "running", "complete", "failed")
    ]
    assert states == ["pending", "running", "complete", "failed"]


def test_submit_polls_to_complete_and_returns_logs_and_lock_entry():
    logs: list[str] = []
    with Replay() as api:
        api.add("POST", JOBS, fixture("trainjob-created.json", 201))
        api.add(
            "GET",
            f"{JOBS}/{NAME}",
            fixture("trainjob-created.json"),
            fixture("trainjob-running.json"),
            fixture("trainjob-running.json"),
            fixture("trainjob-complete.json"),
        )
        api.add("GET", "/api/v1/namespaces/dapt/pods", fixture("pods-complete.json"))
        api.add("GET", f"/api/v1/namespaces/dapt/pods/{POD}/log", fixture("log-complete.txt"))
        job = _full_profile_job()
        reports = run_trainjob(
            job, api_client=api.api_client(), poll_seconds=0, tail_lines=50, log=logs.append
        )
    posted = [json.loads(b) for m, _, b in api.requests if m == "POST"]
    assert posted == [job]  # the manifest went out unchanged
    listed = [p for m, p, _ in api.requests if "/pods?" in p]
    assert "labelSelector=jobset.sigs.k8s.io%2Fjobset-name%3Ddapt-dapt-run42" in listed[0]
    assert any("container=node" in p and "tailLines=50" in p for _, p, _ in api.requests)
    states = [line.split(": ", 1)[1] for line in logs if line.startswith("[trainjob] dapt/")]
    assert states == ["pending", "running", "complete (AllJobsCompleted: jobset completed successfully)"]  # fmt: skip
    assert any("[orchestration] stage dapt: ran" in line for line in logs)  # logs surfaced
    assert reports[0]["terminated"]["exit_code"] == 0
    assert lock_entry(reports)["dapt"]["outs"][0]["path"] == "models/dapt"


def test_failed_job_raises_with_its_message_and_the_pod_logs():
    with Replay() as api:
        api.add("POST", JOBS, fixture("trainjob-created.json", 201))
        api.add(
            "GET",
            f"{JOBS}/{NAME}",
            fixture("trainjob-running.json"),
            fixture("trainjob-failed.json"),
        )
        api.add("GET", "/api/v1/namespaces/dapt/pods", fixture("pods-failed.json"))
        api.add("GET", f"/api/v1/namespaces/dapt/pods/{POD}/log", fixture("log-failed.txt"))
        with pytest.raises(TrainJobFailed) as err:
            run_trainjob(_full_profile_job(), api_client=api.api_client(), poll_seconds=0, log=lambda s: None)  # fmt: skip
    text = str(err.value)
    assert err.value.reason == "FailedJobs"
    assert (
        "TrainJob dapt-dapt-run42 failed (FailedJobs): jobset failed due to one or more job" in text
    )
    assert "exit 1 Error" in text and "termination message: torch.distributed" in text
    assert "torch.OutOfMemoryError: CUDA out of memory" in text  # the cause, from the logs


def test_stage_task_submits_the_stage_job_and_fails_with_the_job_error(monkeypatch):
    """run_stage_job is all the Airflow task of a TrainJob stage does (airflow_dags._trainjob):
    the job of this project's params, and the job's error as the task's."""
    pod_input = json.dumps({"profile": "demo", "digests": {}, "locks": {}})
    # The task wrapper set this task run as the lineage parent; the pods' stage events name it.
    parent = "default/domain_adaptation.dapt/0193c1e2-0000-7000-8000-000000000000"
    monkeypatch.setenv("DAPT_LINEAGE_PARENT", parent)
    monkeypatch.setenv("OPENLINEAGE_URL", "http://marquez:5000")
    with Replay() as api:
        api.add("POST", JOBS, fixture("trainjob-created.json", 201))
        api.add("GET", f"{JOBS}/{NAME}", fixture("trainjob-complete.json"))
        api.add("GET", "/api/v1/namespaces/dapt/pods", fixture("pods-complete.json"))
        api.add("GET", f"/api/v1/namespaces/dapt/pods/{POD}/log", fixture("log-complete.txt"))
        entry = run_stage_job(ROOT, "dapt", pod_input, "run42", api_client=api.api_client(), log=lambda s: None, sleep=lambda s: None)  # fmt: skip
    assert entry["dapt"]["outs"][0]["path"] == "models/dapt"  # what the sync task merges
    job = next(json.loads(b) for m, _, b in api.requests if m == "POST")
    dist = load_section("pretrain", ROOT / "params.yaml").distributed
    trainer = job["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (dist.nnodes, dist.nproc_per_node)
    assert trainer["command"][-3:] == ["--stage", "dapt", "--print-lock"]
    assert {"name": "DAPT_POD_INPUT", "value": pod_input} in trainer["env"]
    assert {"name": "DAPT_LINEAGE_PARENT", "value": parent} in trainer["env"]
    assert {"name": "OPENLINEAGE_URL", "value": "http://marquez:5000"} in trainer["env"]

    with Replay() as api:
        api.add("POST", JOBS, fixture("trainjob-created.json", 201))
        api.add("GET", f"{JOBS}/{NAME}", fixture("trainjob-failed.json"))
        api.add("GET", "/api/v1/namespaces/dapt/pods", fixture("pods-failed.json"))
        api.add("GET", f"/api/v1/namespaces/dapt/pods/{POD}/log", fixture("log-failed.txt"))
        with pytest.raises(TrainJobFailed, match="CUDA out of memory") as err:
            run_stage_job(ROOT, "dapt", pod_input, "run42", api_client=api.api_client(), log=lambda s: None, sleep=lambda s: None)  # fmt: skip
    assert str(err.value).startswith("TrainJob dapt-dapt-run42 failed (FailedJobs): jobset failed")


def test_kubeflow_step_submits_the_same_job_named_after_its_input(tmp_path, monkeypatch):
    """trainjob_run.main, the Kubeflow pipeline's step of a TrainJob stage, with the cluster
    from a kubeconfig (as in a step without in-cluster credentials)."""
    from components.orchestration.trainjob_run import main

    parents = json.dumps({"ingest": {"cmd": "dapt ingest", "outs": []}})
    runs = []
    for _ in range(2):
        with Replay() as api:
            api.add("POST", JOBS, fixture("trainjob-created.json", 201))
            api.add("GET", f"{JOBS}/{NAME}", fixture("trainjob-complete.json"))
            api.add("GET", "/api/v1/namespaces/dapt/pods", fixture("pods-complete.json"))
            api.add("GET", f"/api/v1/namespaces/dapt/pods/{POD}/log", fixture("log-complete.txt"))
            kubeconfig = tmp_path / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config", "current-context": "replay",
                "clusters": [{"name": "replay", "cluster": {"server": api.url}}],
                "contexts": [{"name": "replay", "context": {"cluster": "replay", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
            }))  # fmt: skip
            monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
            monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
            out = tmp_path / "lock.json"
            assert main(["--stage", "dapt", "--root", str(ROOT), "--locks", parents, "--out", str(out)]) == 0  # fmt: skip
        assert json.loads(out.read_text())["dapt"]["outs"][0]["path"] == "models/dapt"
        runs.append(next(json.loads(b) for m, _, b in api.requests if m == "POST"))
    first, again = runs
    env = {e["name"]: e["value"] for e in first["spec"]["trainer"]["env"]}
    assert json.loads(env["DAPT_POD_INPUT"])["locks"] == json.loads(parents)
    assert first["metadata"]["name"].startswith("dapt-dapt-kfp-")
    assert again["metadata"]["name"] == first["metadata"]["name"]  # same input, same job


def test_a_retry_replaces_a_failed_job_of_the_same_name():
    with Replay() as api:
        api.add(
            "POST",
            JOBS,
            fixture("status-409-already-exists.json"),
            fixture("trainjob-created.json", 201),
        )
        api.add(
            "GET",
            f"{JOBS}/{NAME}",
            fixture("trainjob-failed.json"),  # what the earlier try left
            fixture("status-404-not-found.json"),  # gone after the deletion
            fixture("trainjob-complete.json"),
        )
        api.add("DELETE", f"{JOBS}/{NAME}", fixture("trainjob-failed-deleting.json"))
        api.add("GET", "/api/v1/namespaces/dapt/pods", fixture("pods-complete.json"))
        api.add("GET", f"/api/v1/namespaces/dapt/pods/{POD}/log", fixture("log-complete.txt"))
        run_trainjob(_full_profile_job(), api_client=api.api_client(), poll_seconds=0, log=lambda s: None)  # fmt: skip
    methods = [m for m, path, _ in api.requests if "/pods" not in path]
    assert methods == ["POST", "GET", "DELETE", "GET", "POST", "GET"]
    deleted = next(path for m, path, _ in api.requests if m == "DELETE")
    assert deleted.endswith("?propagationPolicy=Foreground")  # its pods go before the new job


def test_podrun_exports_a_mounted_secret_like_env_from(tmp_path, monkeypatch):
    (tmp_path / "AWS_ACCESS_KEY_ID").write_text("AKIAEXAMPLE")
    (tmp_path / "AWS_SECRET_ACCESS_KEY").write_text("from-the-secret")
    (tmp_path / "..data").mkdir()  # what a Secret volume also holds
    (tmp_path / "not-a-name").write_text("x")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "already-set")
    assert load_secret_env(str(tmp_path)) == ["AWS_ACCESS_KEY_ID"]
    import os

    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "already-set"
    assert load_secret_env(None) == [] and load_secret_env(str(tmp_path / "none")) == []


def test_podrun_on_a_worker_node_runs_the_command_and_leaves_dvc_to_node_0(tmp_path, monkeypatch):
    from components.orchestration import podrun

    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  dapt:\n    cmd: echo worker > ran.txt\n    outs: [ran.txt]\n"
    )
    monkeypatch.setenv("PET_NODE_RANK", "1")  # set by the torch runtime on the second node
    monkeypatch.delenv("DAPT_POD_INPUT", raising=False)
    monkeypatch.delenv("DAPT_DVC_REMOTE", raising=False)
    assert podrun.main(["--stage", "dapt", "--root", str(tmp_path), "--print-lock"]) == 0
    assert (tmp_path / "ran.txt").read_text() == "worker\n"
    assert not (tmp_path / "dvc.lock").exists()  # no dvc repro, no lock entry, no push
