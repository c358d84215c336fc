"""The KubeRay examples of docs/ray.md (a RayJob; the RayCluster the Airflow tasks submit Ray
jobs to) against the RayJob CRD, the lock, the params and the Airflow image."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

from components.config import load_section
from components.orchestration.trainjob import crd_schema
from tests.conftest import ROOT

CRD = Path(__file__).parent / "schemas" / "kuberay" / "ray.io_rayjobs.yaml"
JOB = ROOT / "docs" / "kuberay" / "rayjob.yaml"
CLUSTER = ROOT / "docs" / "kuberay" / "raycluster.yaml"


@functools.cache
def schema() -> dict:
    # 1.4 MB of YAML: the C loader when PyYAML has it (seconds less), parsed once per session.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return crd_schema(yaml.load(CRD.read_text(encoding="utf-8"), Loader=loader), "v1")


def problems(job: dict) -> list[str]:
    import jsonschema

    v = jsonschema.Draft7Validator(schema())
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(job)]


def test_example_rayjob_is_valid_and_matches_the_lock_and_the_stage_image():
    job = yaml.safe_load(JOB.read_text(encoding="utf-8"))
    assert problems(job) == []
    pinned = re.search(r"^ray==(\S+)$", (ROOT / "requirements.lock").read_text(), re.M).group(1)
    cluster = job["spec"]["rayClusterSpec"]
    assert cluster["rayVersion"] == pinned  # the cluster runs the Ray the stage was tested with
    image = load_section("orchestration", ROOT / "params.yaml").kubernetes.image_cpu
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    assert {c["image"] for g in groups for c in g["template"]["spec"]["containers"]} == {image}
    assert yaml.safe_load(job["spec"]["runtimeEnvYAML"])["env_vars"]["DAPT_ENGINE"] == "ray"
    # The entrypoint is a stage command of dvc.yaml, so it stays runnable as the graph changes.
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert " ".join(job["spec"]["entrypoint"].split()) in {
        " ".join(s["cmd"].split()) for s in stages.values() if isinstance(s.get("cmd"), str)
    }


def test_the_schema_catches_a_bad_job():
    job = yaml.safe_load(JOB.read_text(encoding="utf-8"))
    job["spec"]["shutdownAfterJobFinishes"] = "yes"
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "four"
    found = problems(job)
    assert any("shutdownAfterJobFinishes" in p for p in found) and any(
        "replicas" in p for p in found
    )


def test_example_raycluster_serves_the_jobs_api_on_the_airflow_workspace_path():
    """What the Airflow tasks submit to: the stage image and the locked Ray, the dashboard (Jobs
    API) reachable at the documented RAY_ADDRESS, and the workspace mounted where the Airflow
    image has it (the job runs ``--root <DAPT_PROJECT_ROOT>``: rayjob_submit.stage_entrypoint)."""
    import jsonschema

    from components.execution import ray_job_address

    text = CLUSTER.read_text(encoding="utf-8")
    cluster = yaml.safe_load(text)
    # The RayJob's rayClusterSpec is KubeRay's RayClusterSpec: one vendored CRD checks both.
    spec_schema = schema()["properties"]["spec"]["properties"]["rayClusterSpec"]
    v = jsonschema.Draft7Validator(spec_schema)
    assert [e.message for e in v.iter_errors(cluster["spec"])] == []
    assert cluster["kind"] == "RayCluster" and cluster["apiVersion"] == "ray.io/v1"
    job = yaml.safe_load(JOB.read_text(encoding="utf-8"))["spec"]["rayClusterSpec"]
    assert cluster["spec"]["rayVersion"] == job["rayVersion"]  # pinned by the test above
    groups = [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]
    containers = [c for g in groups for c in g["template"]["spec"]["containers"]]
    image = load_section("orchestration", ROOT / "params.yaml").kubernetes.image_cpu
    assert {c["image"] for c in containers} == {image}
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text(encoding="utf-8")
    root = re.search(r"DAPT_PROJECT_ROOT=(\S+)", dockerfile).group(1)
    assert all(
        any(m["mountPath"] == root and m["name"] == "workspace" for m in c["volumeMounts"])
        for c in containers
    )
    address = re.search(r"RAY_ADDRESS=(\S+)", text).group(1)
    name = cluster["metadata"]["name"]
    assert ray_job_address({"RAY_ADDRESS": address}) == f"http://{name}-head-svc.dapt.svc:8265"
