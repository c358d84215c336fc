"""Run a DAG in-process with ``dag.test()`` and report what happened, as JSON.

``python -m components.orchestration.dagtest DAG_ID [--runs N] [--conf JSON] [--asset-triggered]``

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


def _report(dag_id: str, dr, seconds: float) -> dict[str, Any]:
    tis = {
        ti.task_id: {
            "state": str(ti.state),
            "try_number": ti.try_number,
            "return": _xcom(dag_id, dr.run_id, ti.task_id),
        }
        for ti in dr.get_task_instances()
    }
    return {
        "run_id": dr.run_id,
        "run_type": str(dr.run_type),
        "state": str(dr.state),
        "seconds": seconds,
        "tasks": tis,
    }


def run_asset_triggered(dag_id: str) -> dict[str, Any]:
    """The run an asset event queued for ``dag_id``, created by the scheduler's own code (an
    ASSET_TRIGGERED run that consumes the queued events), then executed task by task the way
    ``dag.test()`` executes its runs (no executor, retries honoured). Fails when no asset event
    queued a run: the link from the producing DAG to this one is what is being tested."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.sdk import timezone
    from airflow.sdk.definitions.dag import _run_task
    from airflow.settings import DAGS_FOLDER
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    dag = DagBag(dag_folder=DAGS_FOLDER).dags[dag_id]
    start = time.perf_counter()
    with create_session() as session:
        queued = session.scalars(
            select(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
        ).all()
        if not queued:
            raise SystemExit(f"no asset event has queued a run of {dag_id}")
        scheduler = SchedulerJobRunner(job=Job())
        dag_model = DagModel.get_current(dag_id, session=session)
        scheduler._create_dag_runs_asset_triggered(dag_models=[dag_model], session=session)
        session.commit()
        dr = session.scalars(
            select(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.run_type == DagRunType.ASSET_TRIGGERED)
            .order_by(DagRun.id.desc())
        ).first()
        # Oldest first: the last one is the event that queued this run.
        events = [e.extra for e in sorted(dr.consumed_asset_events, key=lambda e: e.id)]
        dr.dag = scheduler._get_current_dag(dag_id=dag_id, session=session)
        dr.state = DagRunState.RUNNING
        dr.start_date = timezone.utcnow()
        session.commit()
        while dr.state == DagRunState.RUNNING:
            session.expire_all()
            schedulable, _ = dr.update_state(session=session)
            for ti in schedulable:
                if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
                ti.scheduled_dttm = timezone.utcnow()
            session.commit()
            scheduled = [
                ti
                for ti in dr.get_task_instances(session=session)
                if ti.state == TaskInstanceState.SCHEDULED
            ]
            if not scheduled:
                time.sleep(0.5)  # a task waits for its retry delay
            for ti in scheduled:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
        out = _report(dag_id, dr, round(time.perf_counter() - start, 3))
    out["consumed_asset_events"] = events
    return out


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
        out.append(_report(dag_id, dr, round(time.perf_counter() - start, 3)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dagtest")
    p.add_argument("dag_id")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument(
        "--conf", type=json.loads, action="append", help="one run per --conf (JSON or null)"
    )
    p.add_argument("--asset", help="also report the events of this asset")
    p.add_argument(
        "--asset-triggered",
        action="store_true",
        help="run what an asset event queued (as the scheduler creates it) instead",
    )
    p.add_argument("--json", required=True, help="write the report here")
    args = p.parse_args(argv)
    report: dict[str, Any] = {}
    if args.asset:
        report["asset_events_before"] = len(asset_events(args.asset))
    if args.asset_triggered:
        report["runs"] = [run_asset_triggered(args.dag_id)]
    else:
        report["runs"] = run(args.dag_id, args.conf or [None] * args.runs)
    if args.asset:
        report["asset_events"] = asset_events(args.asset)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
