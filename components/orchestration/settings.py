"""Where the project is and how it is orchestrated, read once per DAG parse (cheap: YAML only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from components.config import active_profile, load_section, read_params_file
from components.execution import RAY_STAGES, ray_job_address, resolve_engine
from components.orchestration.graph import StageGraph, load
from components.orchestration.params import OrchestrationParams

ROOT_ENV = "DAPT_PROJECT_ROOT"


@dataclass(frozen=True)
class Settings:
    root: Path
    graph: StageGraph
    params: OrchestrationParams
    profile: str
    deliveries: str | None = None  # domain.deliveries.folder: where accepted deliveries go
    engine: str = "local"  # execution.engine, after DAPT_ENGINE
    ray_job_address: str | None = None  # RAY_ADDRESS when it names a Ray Jobs API (http[s])

    @property
    def execution(self) -> str:
        return self.params.effective_execution()

    def runs_in_pod(self, stage: str) -> bool:
        return self.execution == "kubernetes" and stage in self.params.gpu_stages

    def runs_as_ray_job(self, stage: str) -> bool:
        """A Ray stage under ``engine: ray`` with ``RAY_ADDRESS`` naming a Ray Jobs API: its task
        submits the stage as a Ray job there (rayjob_submit) instead of running it itself."""
        return (
            self.engine == "ray"
            and self.ray_job_address is not None
            and stage in RAY_STAGES
            and not self.runs_in_pod(stage)
            and not self.params.fans_out(stage)
        )

    def fans_out(self, stage: str) -> bool:
        """Mapped unit tasks on the workers (local execution)."""
        return not self.runs_in_pod(stage) and self.params.fans_out(stage)

    def fans_out_to_pods(self, stage: str) -> bool:
        """One pod per group of units, then the stage's own pod (Kubernetes execution; a
        TrainJob stage is one distributed job instead)."""
        return (
            self.runs_in_pod(stage)
            and self.params.fans_out(stage)
            and stage not in self.params.kubernetes.trainjob_stages
        )

    def path(self, rel: str) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p


def project_root(dag_file: str | os.PathLike) -> Path:
    """``DAPT_PROJECT_ROOT`` (a deployment's workspace) or the checkout holding the DAG file."""
    env = os.environ.get(ROOT_ENV)
    return Path(env).resolve() if env else Path(dag_file).resolve().parents[1]


def load_settings(root: str | os.PathLike) -> Settings:
    root = Path(root)
    data = read_params_file(root / "params.yaml")
    profile = active_profile(data)
    domain = load_section("domain", root / "params.yaml", profile=profile)
    return Settings(
        root=root,
        graph=load(root / "dvc.yaml").active(),
        params=load_section("orchestration", root / "params.yaml", profile=profile),
        profile=profile,
        deliveries=domain.deliveries.folder if domain.deliveries else None,
        engine=resolve_engine(load_section("execution", root / "params.yaml", profile=profile)),
        ray_job_address=ray_job_address(),
    )
