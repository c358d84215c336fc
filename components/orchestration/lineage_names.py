"""The OpenLineage names of a stage's datasets: the one naming scheme of docs/lineage.md, shared
by the stage events (``components.lineage``) and the Airflow tasks' ``inlets``/``outlets``, so an
Airflow-native lineage tool and the stage events name every dataset alike.

- jobs: namespace ``OPENLINEAGE_NAMESPACE``, else ``dapt-<domain.name>``;
- workspace data: namespace ``dvc://<job namespace>``, name = the project-relative POSIX path
  dvc.yaml names.

Cheap (imported at DAG parse time): YAML and the stage graph; the OpenLineage client (~1 s of
imports) only when Airflow's OpenLineage provider is on, whose listener imports it anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from components.orchestration.graph import StageGraph

# The parent run (namespace/job/runId of the pipeline or Airflow task run) a stage's events name:
# set by the Airflow task wrapper, rendered into a pod's env, copied into a TrainJob's.
PARENT_ENV = "DAPT_LINEAGE_PARENT"


def namespace(domain_name: str | None) -> str:
    return os.environ.get("OPENLINEAGE_NAMESPACE") or f"dapt-{domain_name or 'project'}"


def data_namespace(ns: str) -> str:
    return f"dvc://{ns}"


def project_namespace(root: Path) -> str:
    """The job namespace of the project at ``root`` (its params.yaml ``domain.name``)."""
    params = yaml.safe_load((Path(root) / "params.yaml").read_text(encoding="utf-8")) or {}
    return namespace((params.get("domain") or {}).get("name"))


def stage_datasets(graph: StageGraph, stage: str) -> tuple[list[str], list[str], dict[str, str]]:
    """``(inputs, outputs, inside)`` of a stage run: its deps; its outs plus every path inside
    them another stage depends on (``data/ingested/task`` inside ``data/ingested``: the consumer
    names it so, and listing it joins the graph), ``inside`` mapping those to their out."""
    st = graph.stages[stage]
    outs = list(st.outs)
    inside: dict[str, str] = {}
    for other, spec in graph.stages.items():
        if other == stage:
            continue
        for dep in spec.deps:
            holder = next((o for o in st.outs if dep.startswith(o + "/")), None)
            if holder:
                inside[dep] = holder
                if dep not in outs:
                    outs.append(dep)
    return list(st.deps), outs, inside


def provider_enabled() -> bool:
    """Airflow's OpenLineage provider is installed and has a transport (its own test)."""
    try:
        from airflow.providers.openlineage.conf import is_disabled
    except ImportError:
        return False
    return not is_disabled()


def inlets_outlets(graph: StageGraph, stage: str, ns: str) -> tuple[list, list]:
    """The stage's datasets as OpenLineage ``Dataset`` objects: the Airflow task's ``inlets``
    and ``outlets``, which the OpenLineage provider sends as its task event's inputs/outputs
    (an ``Asset`` would need a converter for the ``dvc`` scheme, which no provider has). None
    while the provider is off: nothing would read them, and the DAG parse stays light."""
    if not provider_enabled():
        return [], []
    from openlineage.client.event_v2 import Dataset

    ins, outs, _ = stage_datasets(graph, stage)
    data_ns = data_namespace(ns)
    return [Dataset(data_ns, p) for p in ins], [Dataset(data_ns, p) for p in outs]
