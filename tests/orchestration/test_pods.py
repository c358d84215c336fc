"""The KubernetesPodOperator for a GPU stage, built and inspected without a cluster."""

from __future__ import annotations

import json

from components.orchestration.params import KubernetesParams
from components.orchestration.pods import (
    PODRUN,
    XCOM_PATH,
    gather_task_id,
    mapped_pod_operator,
    pod_operator,
    pod_spec,
    unit_arguments,
    unit_pod_spec,
    units_task_id,
)


def test_pod_spec_requests_gpus_on_gpu_nodes_with_the_training_image():
    k8s = KubernetesParams(gpus=2, dvc_remote="s3://bucket/dvc")
    spec = pod_spec("dapt", k8s)
    assert spec["image"] == k8s.image_gpu
    assert spec["cmds"] == PODRUN and spec["arguments"][:2] == ["--stage", "dapt"]
    assert spec["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert spec["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert spec["node_selector"] == k8s.node_selector
    assert spec["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "dapt_prepare" in spec["env_vars"]["DAPT_POD_INPUT"]
    assert spec["env_vars"]["DAPT_DVC_REMOTE"] == "s3://bucket/dvc"
    assert spec["do_xcom_push"] is True
    cpu = pod_spec("mine", k8s, gpu=False)
    assert cpu["image"] == k8s.image_cpu and "nvidia.com/gpu" not in cpu["resources"]["limits"]


def test_operator_renders_the_same_pod():
    k8s = KubernetesParams()
    op = pod_operator(pod_spec("tapt", k8s))
    pod = op.build_pod_request_obj(dry_run=True)  # dry run: no kube config needed
    (container,) = [c for c in pod.spec.containers if c.name == "base"]
    assert container.image == k8s.image_gpu
    assert container.command == PODRUN
    assert container.args == ["--stage", "tapt", "--xcom", "/airflow/xcom/return.json"]
    assert container.resources.limits == {"memory": k8s.memory, "nvidia.com/gpu": "1"}
    assert container.resources.requests["nvidia.com/gpu"] == "1"
    assert container.security_context.run_as_non_root is True
    assert container.env_from[0].secret_ref.name == k8s.env_from_secret
    assert pod.spec.node_selector == k8s.node_selector
    assert pod.spec.tolerations[0].effect == "NoSchedule"
    assert pod.spec.service_account_name == k8s.service_account
    assert pod.metadata.namespace == k8s.namespace
    # The XCom sidecar carries the stage's dvc.lock entry back to Airflow.
    assert any(c.name == "airflow-xcom-sidecar" for c in pod.spec.containers)


def test_pod_lineage_env_names_the_transport_and_parent_never_credentials():
    from components.orchestration.pods import LINEAGE_PARENT, lineage_env

    http = {"type": "http", "url": "http://marquez:5000"}
    env = pod_spec("dapt", KubernetesParams(lineage_transport=http))["env_vars"]
    assert env["DAPT_LINEAGE_PARENT"] == LINEAGE_PARENT  # rendered by Airflow: the pod task's run
    assert json.loads(env["OPENLINEAGE__TRANSPORT"]) == http
    scheduler = {
        "OPENLINEAGE_URL": "http://marquez:5000",
        "OPENLINEAGE_API_KEY": "k",
        "OPENLINEAGE__TRANSPORT__AUTH__API_KEY": "k",
        "OPENLINEAGE_NAMESPACE": "dapt-prod",
        "HOME": "/home/x",
    }
    got = lineage_env(KubernetesParams(), scheduler)
    assert got == {
        "DAPT_LINEAGE_PARENT": LINEAGE_PARENT,
        "OPENLINEAGE_URL": "http://marquez:5000",
        "OPENLINEAGE_NAMESPACE": "dapt-prod",
    }
    # Params win over the scheduler's variables (the namespace still names the jobs).
    assert set(lineage_env(KubernetesParams(lineage_transport=http), scheduler)) == {
        "DAPT_LINEAGE_PARENT", "OPENLINEAGE__TRANSPORT", "OPENLINEAGE_NAMESPACE",
    }  # fmt: skip
    provider = {"type": "http", "url": "http://m:5000", "auth": {"type": "api_key", "apiKey": "k"}}
    got = lineage_env(KubernetesParams(), {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(provider)})
    assert json.loads(got["OPENLINEAGE__TRANSPORT"]) == {"type": "http", "url": "http://m:5000"}
    # A file transport writes on the scheduler's disk: meaningless in a pod.
    files = json.dumps({"type": "file", "log_file_path": "/x/ev"})
    assert lineage_env(KubernetesParams(), {"AIRFLOW__OPENLINEAGE__TRANSPORT": files}) == {
        "DAPT_LINEAGE_PARENT": LINEAGE_PARENT
    }


def test_unit_pods_are_the_stage_pod_mapped_over_groups_of_units():
    """A fanned-out stage on Kubernetes: one pod per group of units, same image, resources and
    input as the stage's pod, each with its units as podrun arguments (tests/orchestration/
    test_unit_transfer.py runs that protocol against a real DVC remote)."""
    from airflow.sdk import DAG

    k8s = KubernetesParams(gpus=1, dvc_remote="s3://bucket/dvc")
    groups = unit_arguments(
        "finetune", [["base/full/seed0", "dapt/full/seed0"], ["base/full/seed1"]]
    )
    assert groups == [
        ["--stage", "finetune", "--xcom", XCOM_PATH, "--unit", "base/full/seed0", "--unit", "dapt/full/seed0"],
        ["--stage", "finetune", "--xcom", XCOM_PATH, "--unit", "base/full/seed1"],
    ]  # fmt: skip
    spec = unit_pod_spec("finetune", k8s)
    stage = pod_spec("finetune", k8s, input_task=gather_task_id("finetune"))
    assert spec["task_id"] == units_task_id("finetune") and "arguments" not in spec
    assert spec["image"] == stage["image"] and spec["resources"] == stage["resources"]
    # unit pods start from the prepare task's input; the stage pod from the gathered one
    assert "finetune_prepare" in spec["env_vars"]["DAPT_POD_INPUT"]
    assert "finetune_gather" in stage["env_vars"]["DAPT_POD_INPUT"]
    assert spec["env_vars"]["DAPT_DVC_REMOTE"] == stage["env_vars"]["DAPT_DVC_REMOTE"]
    with DAG("units"):
        op = mapped_pod_operator(spec, groups, max_active_tis_per_dagrun=3)
    assert type(op).__name__ == "MappedOperator" and op.max_active_tis_per_dagrun == 3
    assert op.expand_input.value == {"arguments": groups}
    assert op.partial_kwargs["image"] == k8s.image_gpu
    assert op.partial_kwargs["container_resources"].limits["nvidia.com/gpu"] == "1"
    assert op.partial_kwargs["cmds"] == PODRUN
