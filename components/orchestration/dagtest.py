"""Run a DAG in-process with ``dag.test()`` and report what happened, as JSON.

``python -m components.orchestration.dagtest DAG_ID [--runs N] [--conf JSON]``

Used by the tests and benchmarks (in a subprocess, with ``AIRFLOW_HOME`` and
``AIRFLOW__CORE__DAGS_FOLDER`` set) because Airflow binds its home at import time. The database
must exist (``airflow db migrate``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def _xcom(dag_id: str, run_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run_id, dag_ids=dag_id, task_ids=task_id, key="return_value"
        )
        row = session.scalars(query).first()
        return XComModel.deserialize_value(row) if row is not None else None


def asset_events(name: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_dag_id)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == name)
        ).all()
        return [{"extra": r[0], "dag_id": r[1]} for r in rows]


def run(dag_id: str, confs: list[dict | None]) -> list[dict[str, Any]]:
    """One ``dag.test()`` per entry of ``confs`` (the run's conf, or None)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.settings import DAGS_FOLDER

    bag = DagBag(dag_folder=DAGS_FOLDER)
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    dag = bag.dags[dag_id]
    out = []
    for conf in confs:
        start = time.perf_counter()
        dr = dag.test(run_conf=conf)
        seconds = round(time.perf_counter() - start, 3)
        tis = {
            ti.task_id: {
                "state": str(ti.state),
                "try_number": ti.try_number,
                "return": _xcom(dag_id, dr.run_id, ti.task_id),
            }
            for ti in dr.get_task_instances()
        }
        out.append({"run_id": dr.run_id, "state": str(dr.state), "seconds": seconds, "tasks": tis})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dagtest")
    p.add_argument("dag_id")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument(
        "--conf", type=json.loads, action="append", help="one run per --conf (JSON or null)"
    )
    p.add_argument("--asset", help="also report the events of this asset")
    p.add_argument("--json", required=True, help="write the report here")
    args = p.parse_args(argv)
    report: dict[str, Any] = {}
    if args.asset:
        report["asset_events_before"] = len(asset_events(args.asset))
    report["runs"] = run(args.dag_id, args.conf or [None] * args.runs)
    if args.asset:
        report["asset_events"] = asset_events(args.asset)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
