"""Kubeflow Trainer v2 ``TrainJob`` manifests for pretraining stages (plain data, no cluster).

A stage runs as a TrainJob on the ``torch-distributed`` (Cluster)TrainingRuntime: ``numNodes``
pods, each with ``numProcPerNode`` GPUs. The runtime sets torchrun's environment in every pod
(PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT); the container
runs the stage's usual command (``podrun``), whose ``dapt pretrain`` re-launches itself through
torchrun with ``pretrain.distributed``'s process counts, which picks the rendezvous up from there.

The Trainer API has no ``envFrom``: the DVC remote's Secret is mounted as files through
``runtimePatches`` and ``podrun`` exports each file as an environment variable
(``DAPT_SECRET_ENV_DIR``), the same variables a pod's ``envFrom`` would give.

API reference: kubeflow/trainer ``pkg/apis/trainer/v1alpha1/trainjob_types.go``; the CRD schema
used by the tests is vendored in ``tests/orchestration/schemas/`` (provenance there).
"""

from __future__ import annotations

import re
from typing import Any

from components.orchestration.params import KubernetesParams

GROUP = "trainer.kubeflow.org"
VERSION = "v1alpha1"
PLURAL = "trainjobs"
KIND = "TrainJob"
NODE_CONTAINER = "node"  # the trainer container (and replicated job) of the torch runtimes
SECRET_ENV_DIR = "DAPT_SECRET_ENV_DIR"
LOCK_MARKER = "DAPT_LOCK_ENTRY "  # podrun --print-lock: the stage's dvc.lock entry, on one line
SECRET_MOUNT = "/var/run/secrets/dapt/env"
PATCH_MANAGER = "dapt-pipeline/orchestration"
# torchrun's variables belong to the runtime: the Trainer webhook rejects them in trainer.env.
RESERVED_ENV = ("PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR")
RESERVED_ENV += ("PET_MASTER_PORT",)
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def trainjob_name(stage: str, run_id: str = "") -> str:
    """A valid TrainJob name (RFC 1035 label, <= 63 characters) for a stage and a run."""
    raw = f"dapt-{stage}" + (f"-{run_id}" if run_id else "")
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)[:63].rstrip("-")
    if not _DNS_1035.match(name):
        raise ValueError(f"cannot make a TrainJob name from stage {stage!r} and run {run_id!r}")
    return name


def trainjob_manifest(
    stage: str,
    command: list[str],
    k8s: KubernetesParams,
    *,
    nodes: int,
    procs_per_node: int,
    name: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The TrainJob running ``command`` for ``stage`` on ``nodes`` x ``procs_per_node`` GPUs."""
    if nodes < 1 or procs_per_node < 1:
        raise ValueError(f"a TrainJob needs >= 1 node and process, got {nodes} x {procs_per_node}")
    env = dict(env or {})
    if k8s.dvc_remote:
        env.setdefault("DAPT_DVC_REMOTE", k8s.dvc_remote)
    if k8s.env_from_secret:
        env[SECRET_ENV_DIR] = SECRET_MOUNT
    reserved = sorted(set(env) & set(RESERVED_ENV))
    if reserved:
        raise ValueError(f"{', '.join(reserved)}: set by the torch runtime, not by the job")
    gpus = {k8s.gpu_resource: str(procs_per_node)}  # one GPU per torchrun process
    labels = {"app.kubernetes.io/part-of": "dapt-pipeline", "dapt/stage": stage}

    pod: dict[str, Any] = {
        "serviceAccountName": k8s.service_account,
        "nodeSelector": dict(k8s.node_selector),
        "tolerations": [dict(t) for t in k8s.tolerations],
        # Pods run as the image's non-root user; nothing needs privilege.
        "securityContext": {"runAsNonRoot": True},
    }
    container: dict[str, Any] = {
        "name": NODE_CONTAINER,
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if k8s.env_from_secret:
        pod["volumes"] = [
            {"name": "dvc-remote", "secret": {"secretName": k8s.env_from_secret}},
        ]
        container["volumeMounts"] = [
            {"name": "dvc-remote", "mountPath": SECRET_MOUNT, "readOnly": True},
        ]
    pod["containers"] = [container]
    patch = {
        "manager": PATCH_MANAGER,
        "trainingRuntimeSpec": {
            "template": {
                "spec": {
                    "replicatedJobs": [
                        {
                            "name": NODE_CONTAINER,
                            "template": {
                                "spec": {"template": {"metadata": {"labels": labels}, "spec": pod}}
                            },
                        }
                    ]
                }
            }
        },
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": name or trainjob_name(stage),
            "namespace": k8s.namespace,
            "labels": dict(labels),
        },
        "spec": {
            "runtimeRef": {
                "apiGroup": GROUP,
                "kind": k8s.trainjob_runtime_kind,
                "name": k8s.trainjob_runtime,
            },
            "trainer": {
                "image": k8s.image_gpu,
                "command": list(command),
                "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
                "numNodes": nodes,
                "numProcPerNode": procs_per_node,
                "resourcesPerNode": {
                    "requests": {"cpu": k8s.cpu, "memory": k8s.memory, **gpus},
                    "limits": {"memory": k8s.memory, **gpus},
                },
            },
            "runtimePatches": [patch],
            "activeDeadlineSeconds": int(k8s.trainjob_timeout_hours * 3600),
        },
    }


def crd_schema(crd: dict[str, Any], version: str = VERSION) -> dict[str, Any]:
    """The OpenAPI v3 schema of ``version`` in a CustomResourceDefinition document."""
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    raise KeyError(f"the CRD has no version {version}")


def validate(obj: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    """Problems of ``obj`` against the CRD's schema, as the API server would report them.

    JSON Schema covers types, enums, bounds and required fields; the CEL rules
    (``x-kubernetes-validations``) that apply to what we generate are checked here by hand:
    the name format and length, and numProcPerNode >= 1.
    """
    import jsonschema

    validator = jsonschema.Draft7Validator(crd_schema(crd))
    problems = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    ]
    name = obj.get("metadata", {}).get("name", "")
    if not _DNS_1035.match(name):
        problems.append("metadata.name: must match RFC 1035 DNS label format")
    if len(name) > 63:
        problems.append("metadata.name: must be no more than 63 characters")
    procs = obj.get("spec", {}).get("trainer", {}).get("numProcPerNode")
    if procs is not None and procs < 1:
        problems.append("spec.trainer.numProcPerNode: must be greater than or equal to 1")
    return problems
