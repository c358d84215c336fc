"""Typed ``orchestration`` section of params.yaml: schedule, retries, where GPU stages run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from components.config import output_location, param

EXECUTION_ENV = "DAPT_EXECUTION"


@dataclass
class KubernetesParams:
    """Pod settings for GPU stages when ``execution: kubernetes`` (no secrets here)."""

    namespace: str = param("dapt")
    image_cpu: str = param("registry.example.com/dapt/stage:0.1.0-cpu", help="docker/stage-cpu")
    image_gpu: str = param("registry.example.com/dapt/stage:0.1.0-cuda", help="docker/stage-cuda")
    gpu_resource: str = param("nvidia.com/gpu", help="extended resource name of the GPUs")
    gpus: int = param(1, ge=1, le=16, help="GPUs requested (and limited) per GPU stage")
    cpu: str = param("4", help="CPU request of a GPU stage pod")
    memory: str = param("24Gi", help="memory request and limit of a GPU stage pod")
    node_selector: dict[str, str] = param({"nvidia.com/gpu.present": "true"})
    tolerations: list[dict[str, str]] = param(
        [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    )
    service_account: str = param("dapt-pipeline")
    env_from_secret: str = param(
        "dapt-dvc-remote",
        help="Kubernetes Secret exposed as environment (DVC remote credentials); empty: none",
    )
    dvc_remote: str = param(
        "", help="DVC remote URL the pods use (DAPT_DVC_REMOTE); empty: the project default"
    )
    kubernetes_conn_id: str = param("kubernetes_default", help="Airflow connection of the cluster")
    startup_timeout_seconds: int = param(900, ge=30)
    lineage_transport: dict[str, str] = param(
        {},
        help="OpenLineage transport of the stage events sent from pods (the client's `transport` "
        "config, e.g. {type: http, url: http://marquez:5000}; credentials go in env_from_secret); "
        "empty: the scheduler's OPENLINEAGE_* variables, else Airflow's [openlineage] transport",
    )
    # Pretraining as Kubeflow Trainer v2 TrainJobs (components/orchestration/trainjob.py): nodes
    # and processes per node come from pretrain.distributed, one GPU per process.
    trainjob_stages: list[str] = param(
        ["dapt", "tapt", "control", "tapt_only", "adapter_dapt"],
        help="stages submitted as TrainJobs under execution: kubernetes (the others: pods)",
    )
    trainjob_runtime: str = param("torch-distributed", help="(Cluster)TrainingRuntime to run on")
    trainjob_runtime_kind: Literal["ClusterTrainingRuntime", "TrainingRuntime"] = param(
        "ClusterTrainingRuntime", help="TrainingRuntime: a runtime in the job's own namespace"
    )
    trainjob_timeout_hours: float = param(
        48.0, gt=0, help="activeDeadlineSeconds of the job, and how long the task waits for it"
    )
    trainjob_poll_seconds: int = param(30, ge=1, help="seconds between status polls")
    trainjob_log_lines: int = param(200, ge=0, help="log lines per node pod shown when it ends")

    def check(self) -> list[str]:
        return output_location(self.dvc_remote, "dvc_remote") if self.dvc_remote else []


@dataclass
class HandoffParams:
    """The data team's drop folder and what happens to deliveries (accepted ones go to
    ``domain.deliveries.folder``, an input of ingest)."""

    RENAMED: ClassVar[dict[str, str]] = {
        "accepted_folder": "moved to domain.deliveries.folder: accepted deliveries are inputs "
        "of ingest, so they live under domain.inputs"
    }

    schedule: str | None = param(
        "*/30 * * * *", help="cron for polling the drop folder; null: trigger only"
    )
    drop_folder: str = param("data/incoming", help="where deliveries arrive (not versioned)")
    patterns: list[str] = param(["*.jsonl", "*.txt"], help="files in the drop folder to pick up")
    quarantine_folder: str = param("data/quarantine", help="failed deliveries with their report")
    report_folder: str = param("reports/handoff", help="validation report per delivery")

    def check(self) -> list[str]:
        # Folders files are moved into and out of: never a store URI, always inside the project.
        keys = ("drop_folder", "quarantine_folder", "report_folder")
        return [p for k in keys for p in output_location(getattr(self, k), k, uri_ok=False)]


@dataclass
class OrchestrationParams:
    """How the stage graph in dvc.yaml is scheduled and executed."""

    schedule: str | None = param(
        "@weekly", help="cron/preset of domain_adaptation; null: asset only"
    )
    retries: int = param(
        2, ge=0, le=20, help="for transient failures; bad data or params fail without retry"
    )
    retry_delay_seconds: int = param(300, ge=1)
    retry_backoff: float = param(2.0, ge=0, help="exponential backoff multiplier (0: constant)")
    max_retry_delay_seconds: int = param(3600, ge=1)
    execution_timeout_hours: float = param(24.0, gt=0, help="per task")
    lock_wait_seconds: int = param(
        1800,
        ge=0,
        help="how long a task waits for the DVC workspace lock a concurrent command holds",
    )
    pool: str = param("dvc_workspace", help="Airflow pool serialising DVC in the workspace")
    execution: Literal["local", "kubernetes"] = param(
        "local", help=f"where GPU stages run; the {EXECUTION_ENV} environment variable overrides"
    )
    gpu_stages: list[str] = param(
        ["dapt", "dapt_tapt", "tapt_only", "control", "adapter_dapt", "finetune"],
        help="stages that need a GPU (names absent from dvc.yaml are ignored)",
    )
    push: bool = param(True, help="dvc push at the end of every run")
    # Fan-out (components/finetune/units.py): a listed stage becomes plan -> mapped unit tasks ->
    # the stage itself, which takes the staged units and locks the one output.
    fanout_stages: list[str] = param(
        ["finetune"],
        help="stages whose command takes --plan FILE and --unit ID (mapped tasks locally, one "
        "pod per task on Kubernetes)",
    )
    fanout_units_per_task: int = param(
        0,
        ge=0,
        help="units per mapped task; 0: no fan-out, the stage runs every unit on its own process "
        "pool (`airflow dags test`, i.e. make run, runs one task at a time)",
    )
    fanout_max_parallel: int = param(
        0, ge=0, help="mapped unit tasks running at once per DAG run (0: the executor's limit)"
    )
    kubernetes: KubernetesParams = field(default_factory=KubernetesParams)
    handoff: HandoffParams = field(default_factory=HandoffParams)

    def effective_execution(self) -> str:
        return os.environ.get(EXECUTION_ENV) or self.execution

    def fans_out(self, stage: str) -> bool:
        return self.fanout_units_per_task > 0 and stage in self.fanout_stages

    def check(self) -> list[str]:
        problems = []
        if self.max_retry_delay_seconds < self.retry_delay_seconds:
            problems.append("max_retry_delay_seconds: must be >= retry_delay_seconds")
        if os.environ.get(EXECUTION_ENV, "local") not in ("local", "kubernetes"):
            problems.append(f"execution: {EXECUTION_ENV} must be local or kubernetes")
        return problems
