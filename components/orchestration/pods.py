"""KubernetesPodOperator tasks for GPU stages: a plain pod spec, and the operator built from it.

The spec is a dict so it can be checked without a cluster (and without the provider); the
provider is imported only in :func:`pod_operator`, when a DAG actually runs stages in pods, because
importing it costs ~2.5 s of DAG parse time.

Data moves through the DVC remote: a local ``<stage>_prepare`` task pushes the parents' outputs
and hands the pod dvc.yaml, params.yaml and the parents' dvc.lock entries; the pod pulls, runs
``dvc repro --single-item``, pushes, and returns its dvc.lock entry as XCom; ``<stage>_sync``
writes that entry into the workspace's dvc.lock and pulls the outputs for downstream stages.
A fanned-out stage adds ``<stage>_plan`` (its units, in groups) -> ``<stage>_units`` (one mapped
pod per group, each pushing its staged units) -> ``<stage>_gather`` (their entries into the
stage pod's input) before the stage's own pod (podrun, unit_transfer).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from components.orchestration.lineage_names import PARENT_ENV
from components.orchestration.params import KubernetesParams
from components.remote import ENV as REMOTE_ENV

POD_INPUT_ENV = "DAPT_POD_INPUT"
XCOM_PATH = "/airflow/xcom/return.json"
PODRUN = ["python", "-m", "components.orchestration.podrun"]
# The pod's stage events name the pod task's run as their parent: a macro of the DAG
# (airflow_dags.lineage_parent), rendered by Airflow when it starts the pod.
LINEAGE_PARENT = "{{ dapt_lineage_parent(ti) }}"
# OpenLineage variables never copied into a pod spec (it is stored in Airflow's database and
# shown in the UI): credentials reach pods through env_from_secret.
_CREDENTIALS = ("AUTH", "KEY", "TOKEN", "PASSWORD", "SECRET")
_FORWARDED = (
    "OPENLINEAGE_URL",
    "OPENLINEAGE_ENDPOINT",
    "OPENLINEAGE_NAMESPACE",
    "OPENLINEAGE_DISABLED",
)


def lineage_env(k8s: KubernetesParams, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment that makes the in-pod stage send its OpenLineage events where the scheduler's
    go (a pod's own files vanish with it), parented to the pod task's run: params'
    ``lineage_transport``, else the scheduler's ``OPENLINEAGE_*`` variables (no credentials),
    else Airflow's ``[openlineage] transport`` unless it writes files on the scheduler's disk."""
    environ = os.environ if environ is None else environ
    env = {PARENT_ENV: LINEAGE_PARENT}
    if environ.get("OPENLINEAGE_NAMESPACE"):  # the job namespace is part of every name
        env["OPENLINEAGE_NAMESPACE"] = environ["OPENLINEAGE_NAMESPACE"]
    if k8s.lineage_transport:
        env["OPENLINEAGE__TRANSPORT"] = json.dumps(dict(k8s.lineage_transport), sort_keys=True)
        return env
    forwarded = {
        k: v
        for k, v in environ.items()
        if (k in _FORWARDED or k.startswith("OPENLINEAGE__TRANSPORT"))
        and not any(c in k.removeprefix("OPENLINEAGE__") for c in _CREDENTIALS)
    }
    if forwarded:
        return {**env, **forwarded}
    provider = environ.get("AIRFLOW__OPENLINEAGE__TRANSPORT", "")
    try:
        transport = json.loads(provider) if provider else {}
    except ValueError:
        transport = {}
    if isinstance(transport, dict) and transport.get("type") not in (None, "", "file"):
        transport = {k: v for k, v in transport.items() if k != "auth"}  # credentials: no
        env["OPENLINEAGE__TRANSPORT"] = json.dumps(transport, sort_keys=True)
    return env


def prepare_task_id(stage: str) -> str:
    return f"{stage}_prepare"


def sync_task_id(stage: str) -> str:
    return f"{stage}_sync"


def units_task_id(stage: str) -> str:
    return f"{stage}_units"


def gather_task_id(stage: str) -> str:
    return f"{stage}_gather"


def pod_spec(
    stage: str, k8s: KubernetesParams, *, gpu: bool = True, input_task: str | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``KubernetesPodOperator`` for one stage (plain data, testable);
    its input (``DAPT_POD_INPUT``) is the XCom of ``input_task`` (default: the prepare task)."""
    gpu_res = {k8s.gpu_resource: str(k8s.gpus)} if gpu else {}
    pull = "ti.xcom_pull(task_ids='" + (input_task or prepare_task_id(stage)) + "')"
    env = {POD_INPUT_ENV: "{{ " + pull + " }}", **lineage_env(k8s)}
    if k8s.dvc_remote:
        env[REMOTE_ENV] = k8s.dvc_remote
    return {
        "task_id": stage,
        "name": f"dapt-{stage}".replace("_", "-").lower(),
        "namespace": k8s.namespace,
        "image": k8s.image_gpu if gpu else k8s.image_cpu,
        "cmds": list(PODRUN),
        "arguments": ["--stage", stage, "--xcom", XCOM_PATH],
        "env_vars": env,
        "env_from_secret": k8s.env_from_secret,
        "resources": {
            "requests": {"cpu": k8s.cpu, "memory": k8s.memory, **gpu_res},
            "limits": {"memory": k8s.memory, **gpu_res},
        },
        "node_selector": dict(k8s.node_selector) if gpu else {},
        "tolerations": [dict(t) for t in k8s.tolerations] if gpu else [],
        "service_account_name": k8s.service_account,
        "kubernetes_conn_id": k8s.kubernetes_conn_id,
        "startup_timeout_seconds": k8s.startup_timeout_seconds,
        "do_xcom_push": True,
        "get_logs": True,
        "on_finish_action": "delete_succeeded_pod",
        "labels": {"app.kubernetes.io/part-of": "dapt-pipeline", "dapt/stage": stage},
    }


def unit_pod_spec(stage: str, k8s: KubernetesParams) -> dict[str, Any]:
    """The mapped pods of a fanned-out stage: the stage's pod spec, its ``arguments`` given per
    mapped task (:func:`unit_arguments`), its input the prepare task's."""
    spec = pod_spec(stage, k8s)
    spec.pop("arguments")
    spec["task_id"] = units_task_id(stage)
    spec["name"] = f"dapt-{stage}-units".replace("_", "-").lower()
    spec["labels"] = {**spec["labels"], "dapt/part": "units"}
    return spec


def unit_arguments(stage: str, groups: list[list[str]]) -> list[list[str]]:
    """podrun's arguments for each mapped unit pod: one group of unit ids each."""
    base = ["--stage", stage, "--xcom", XCOM_PATH]
    return [[*base, *(a for u in group for a in ("--unit", u))] for group in groups]


def pod_operator(spec: dict[str, Any], **task_kwargs: Any):
    """The ``KubernetesPodOperator`` for a :func:`pod_spec` (imports the provider)."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    return KubernetesPodOperator(**_operator_kwargs(spec), **task_kwargs)


def mapped_pod_operator(spec: dict[str, Any], arguments: Any, **task_kwargs: Any):
    """One pod per element of ``arguments`` (an XCom list of argument lists): Airflow's
    dynamic task mapping over ``KubernetesPodOperator`` (imports the provider)."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    return KubernetesPodOperator.partial(**_operator_kwargs(spec), **task_kwargs).expand(
        arguments=arguments
    )


def _operator_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    from kubernetes.client import models as k8s

    spec = dict(spec)
    res = spec.pop("resources")
    secret = spec.pop("env_from_secret")
    env_from = (
        [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))] if secret else None
    )
    return dict(
        container_resources=k8s.V1ResourceRequirements(
            requests=res["requests"], limits=res["limits"]
        ),
        tolerations=[k8s.V1Toleration(**t) for t in spec.pop("tolerations")],
        env_from=env_from,
        # Pods run as the image's non-root user; nothing needs privilege.
        container_security_context=k8s.V1SecurityContext(
            run_as_non_root=True, allow_privilege_escalation=False
        ),
        **spec,
    )
