"""Parse DAG files (a file or a folder) in a fresh interpreter and report what a DAG processor would see (JSON).

Run as a subprocess by test_integrity.py so sys.modules reflects this file's parse only.
"""

from __future__ import annotations

import json
import sys
import time

HEAVY = ("torch", "transformers", "great_expectations", "pandas", "mlflow", "dvc", "kfp")


def first_run_in(dag) -> float | None:
    """Seconds from now to the first scheduled run after the DAG is unpaused (no runs yet), as
    the scheduler's timetable computes it; None: never by time (asset or manual only)."""
    from datetime import UTC, datetime

    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=dag.catchup),
    )
    return None if info is None else (info.run_after - datetime.now(UTC)).total_seconds()


def _dataset(d) -> str:
    return f"{d.namespace} {d.name}" if hasattr(d, "namespace") else f"{type(d).__name__} {d!r}"


def mapped(t) -> bool:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    return isinstance(t, MappedOperator)


def expand_from(t) -> list[str]:
    """For a mapped task: the tasks whose output it is expanded over."""
    return sorted(op.task_id for op in t.iter_mapped_dependencies()) if mapped(t) else []


def main(path: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    already = {m for m in HEAVY if m in sys.modules}
    start = time.perf_counter()
    bag = DagBag(dag_folder=path)
    wall = time.perf_counter() - start
    report = {
        "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
        "parse_seconds": {s.file.lstrip("/"): s.duration.total_seconds() for s in bag.dagbag_stats},
        "dagbag_seconds": wall,
        "heavy_before": sorted(already),
        "heavy_after": sorted(m for m in HEAVY if m in sys.modules),
        "kubernetes_provider": "airflow.providers.cncf.kubernetes.operators.pod" in sys.modules,
        "openlineage_client": "openlineage.client" in sys.modules,
        "dags": {
            dag_id: {
                "tags": sorted(dag.tags),
                "doc_md": dag.doc_md or "",
                "max_active_runs": dag.max_active_runs,
                "catchup": dag.catchup,
                "first_run_in_seconds": first_run_in(dag),
                "tasks": {
                    t.task_id: {
                        "retries": t.retries,
                        "retry_exponential_backoff": float(t.retry_exponential_backoff),
                        "pool": t.pool,
                        "upstream": sorted(t.upstream_task_ids),
                        "type": type(t).__name__,
                        # a mapped task's operator (type is MappedOperator)
                        "operator": getattr(t, "operator_class", type(t)).__name__,
                        # OpenLineage datasets as "namespace name" (what the provider would send)
                        "inlets": [_dataset(d) for d in t.inlets],
                        "outlets": [_dataset(d) for d in t.outlets],
                        "mapped": mapped(t),
                        "expand_from": expand_from(t),
                        "group": t.task_group.group_id if t.task_group else None,
                        "trigger_rule": getattr(t.trigger_rule, "value", str(t.trigger_rule)),
                        "max_active_tis_per_dagrun": t.max_active_tis_per_dagrun,
                    }
                    for t in dag.tasks
                },
            }
            for dag_id, dag in bag.dags.items()
        },
    }
    print("PARSE_REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
