"""Pure builders of OpenLineage run events for DVC stages and model registration.

One naming scheme (docs/lineage.md), so every producer names the same dataset the same way:

- jobs: namespace ``namespace()`` (``OPENLINEAGE_NAMESPACE``, else ``dapt-<domain.name>``), name =
  the dvc.yaml stage (``ingest``); registration is the job ``register.model_version``;
- workspace data: namespace ``dvc://<job namespace>``, name = the project-relative POSIX path DVC
  tracks (``data/ingested``, ``data/ingested/domain.jsonl``), never an absolute path: a pod, a
  worker and a laptop checkout name it alike, and the version is DVC's content hash;
- a registered model version: namespace ``mlflow://<registry host>`` (``mlflow://local`` for a
  store inside the project), name ``models:/<name>/<version>``.

Nothing here touches the disk or the network: ``emit.py`` gathers hashes and sends.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlparse

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated.base import DatasetFacet, RunFacet
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.job_type_job import JobTypeJobFacet
from openlineage.client.generated.parent_run import Job as ParentJob
from openlineage.client.generated.parent_run import ParentRunFacet
from openlineage.client.generated.parent_run import Run as ParentRun

# One naming scheme for stage events and Airflow task inlets/outlets (defined below us).
from components.orchestration.lineage_names import data_namespace, namespace

__all__ = ["data_namespace", "namespace"]

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python#dapt-pipeline"
# Our facets' JSON schemas live in the repository (schemas/dapt/); the URL names the file there.
SCHEMA_BASE = os.environ.get("DAPT_LINEAGE_SCHEMA_BASE", "https://dapt-pipeline.local/schemas/dapt")
REGISTER_JOB = "register.model_version"


def _schema(name: str) -> str:
    return f"{SCHEMA_BASE}/1-0-0/{name}.json#/$defs/{name}"


@attr.define
class DvcDatasetFacet(DatasetFacet):
    """The content hash DVC records for this path (dvc.lock), and the output holding it."""

    md5: str
    path: str
    stage: str | None = attr.field(default=None)
    inside: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return _schema("DvcDatasetFacet")


@attr.define
class DaptRunFacet(RunFacet):
    """What only the pipeline knows about a stage run."""

    stage: str
    command: str
    gitCommit: str
    gitDirty: bool
    params: dict[str, Any] = attr.field(factory=dict)
    mlflowRunIds: list[str] = attr.field(factory=list)
    metrics: dict[str, float] = attr.field(factory=dict)
    exitCode: int | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return _schema("DaptRunFacet")


@attr.define
class GateDecisionDatasetFacet(DatasetFacet):
    """The gate's verdict on a registered model version."""

    promote: bool
    alias: str
    reason: str
    candidate: str
    comparisons: list[dict[str, Any]] = attr.field(factory=list)

    _additional_skip_redact: ClassVar[list[str]] = ["reason"]

    @staticmethod
    def _get_schema() -> str:
        return _schema("GateDecisionDatasetFacet")


def registry_namespace(tracking_uri: str, ns: str) -> str:
    u = urlparse(tracking_uri or "")
    if u.scheme in {"http", "https", "databricks"} and u.netloc:
        return f"mlflow://{u.netloc}"
    return f"mlflow://{ns}"  # a store inside the project (sqlite, file): the project names it


def now() -> str:
    return datetime.now(UTC).isoformat()


def dataset_facets(path: str, md5: str, stage: str | None, inside: str | None) -> dict:
    if not md5:
        return {}
    return {
        "version": DatasetVersionDatasetFacet(datasetVersion=md5),
        "dvc": DvcDatasetFacet(md5=md5, path=path, stage=stage, inside=inside),
    }


def inputs(ns: str, paths: list[str], hashes: dict[str, str]) -> list[InputDataset]:
    return [
        InputDataset(data_namespace(ns), p, facets=dataset_facets(p, hashes.get(p, ""), None, None))
        for p in paths
    ]


def outputs(
    ns: str, stage: str, paths: list[str], hashes: dict[str, str], inside: dict[str, str]
) -> list[OutputDataset]:
    return [
        OutputDataset(
            data_namespace(ns),
            p,
            facets=dataset_facets(p, hashes.get(p, ""), stage, inside.get(p)),
        )
        for p in paths
    ]


def parent_facet(parent: str | None) -> dict[str, ParentRunFacet]:
    """``namespace/job/runId`` (the form of Airflow's ``lineage_parent_id``) -> ParentRunFacet."""
    if not parent:
        return {}
    parts = parent.rsplit("/", 2)
    if len(parts) != 3 or not all(parts):
        return {}
    ns, job, run_id = parts
    return {"parent": ParentRunFacet(run=ParentRun(runId=run_id), job=ParentJob(ns, job))}


def run_event(
    state: RunState,
    ns: str,
    job: str,
    run_id: str,
    *,
    ins: list[InputDataset] = (),
    outs: list[OutputDataset] = (),
    run_facets: dict[str, RunFacet] | None = None,
    parent: str | None = None,
    error: str | None = None,
) -> RunEvent:
    facets: dict[str, RunFacet] = {**parent_facet(parent), **(run_facets or {})}
    if error is not None:
        facets["errorMessage"] = ErrorMessageRunFacet(
            message=error or "failed", programmingLanguage="python"
        )
    job_facets = {
        "jobType": JobTypeJobFacet(processingType="BATCH", integration="DVC", jobType="STAGE")
    }
    return RunEvent(
        eventType=state,
        eventTime=now(),
        run=Run(runId=run_id, facets=facets),
        job=Job(namespace=ns, name=job, facets=job_facets),
        inputs=list(ins),
        outputs=list(outs),
        producer=PRODUCER,
    )


def model_version(
    ns: str, tracking_uri: str, name: str, version: str, gate: dict[str, Any]
) -> OutputDataset:
    decision = GateDecisionDatasetFacet(
        promote=bool(gate.get("promote")),
        alias=str(gate.get("alias", "")),
        reason=str(gate.get("reason", "")),
        candidate=str(gate.get("candidate", "")),
        comparisons=list(gate.get("comparisons") or []),
    )
    return OutputDataset(
        registry_namespace(tracking_uri, ns),
        f"models:/{name}/{version}",
        facets={
            "version": DatasetVersionDatasetFacet(datasetVersion=str(version)),
            "gate": decision,
        },
    )
