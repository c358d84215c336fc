"""Airflow 3 DAGs generated from the stage graph; the files in dags/ only call these builders.

Imported at DAG parse time: Airflow's SDK, this package and PyYAML only. Everything heavy (DVC,
the Kubernetes provider, the stages themselves) is imported inside the tasks.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import (
    DAG,
    Asset,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    TaskGroup,
    task,
)

from components.orchestration.lineage_names import PARENT_ENV, inlets_outlets, project_namespace
from components.orchestration.pods import (
    gather_task_id,
    pod_spec,
    prepare_task_id,
    sync_task_id,
)
from components.orchestration.settings import Settings

TAGS = ["dapt", "dvc"]


def default_args(s: Settings) -> dict[str, Any]:
    """Retries are for transient faults: a task whose failure is bad data or parameters raises
    AirflowFailException and fails at once (runner.NonRetryableError)."""
    p = s.params
    return {
        "owner": "dapt",
        "retries": p.retries,
        "retry_delay": timedelta(seconds=p.retry_delay_seconds),
        "retry_exponential_backoff": p.retry_backoff,
        "max_retry_delay": timedelta(seconds=p.max_retry_delay_seconds),
        "execution_timeout": timedelta(hours=p.execution_timeout_hours),
    }


def cron(expression: str) -> CronTriggerTimetable:
    """No start date and ``run_immediately=0``: unpausing a DAG starts nothing; its first
    scheduled run is the next cron time (trigger it to run now). With a past start date Airflow
    would start the most recent missed run at once, even with ``catchup=False``."""
    return CronTriggerTimetable(expression, timezone="UTC", run_immediately=timedelta(0))


def corpus_asset(s: Settings) -> Asset:
    """Updated by corpus_handoff on every accepted delivery; domain_adaptation listens to it."""
    uri = s.path(s.deliveries or s.params.handoff.drop_folder).resolve().as_uri()
    return Asset(name="dapt_validated_corpus", uri=uri, group="dapt")


# Task callables are module-level so their source (shown in the UI) is the real code.
def _stage(root: str, stage: str, lock_wait: int) -> dict[str, Any]:
    from airflow.sdk.exceptions import AirflowFailException

    from components.orchestration import runner

    _lineage_parent()
    try:
        return runner.run_stage(root, stage, lock_wait=lock_wait)
    except runner.NonRetryableError as exc:
        raise AirflowFailException(str(exc)) from exc


def _ray_job(root: str, stage: str, lock_wait: int) -> dict[str, Any]:
    """A Ray stage submitted as a Ray job to the Jobs API at ``RAY_ADDRESS``: the same
    ``run_stage`` on the cluster, this task streaming its logs (rayjob_submit)."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from components.execution import RAY_ADDRESS_ENV, ray_job_address
    from components.orchestration import rayjob_submit, runner

    _lineage_parent()
    address = ray_job_address()
    if address is None:
        raise AirflowFailException(
            f"stage {stage} was made a Ray job when the DAG was parsed ({RAY_ADDRESS_ENV} named a "
            f"Ray Jobs API), but this worker's {RAY_ADDRESS_ENV} does not: give the DAG processor "
            "and the workers the same http(s)://<head>:8265 address (docs/ray.md)"
        )
    try:
        ti = get_current_context()["ti"]
        run_id, dag_id = str(ti.run_id), str(ti.dag_id)  # the job's id: a retry finds its job
    except Exception:  # a direct call, outside a task: a fresh job
        run_id = dag_id = ""
    try:
        return rayjob_submit.run_stage_job(
            root, stage, address=address, run_id=run_id, dag_id=dag_id, lock_wait=lock_wait
        )
    except runner.NonRetryableError as exc:
        raise AirflowFailException(str(exc)) from exc


def _lineage_parent() -> None:
    """The stage's OpenLineage events name this task run as their parent (docs/lineage.md)."""
    import os

    from airflow.sdk import get_current_context

    try:
        ti = get_current_context()["ti"]
    except Exception:  # not inside a task (a direct call): no parent
        return
    os.environ[PARENT_ENV] = lineage_parent(ti)


def lineage_parent(ti: Any) -> str:
    """``namespace/dag_id.task_id/runId`` of a task run as the OpenLineage provider names it
    (its task event's run id), else a stable id from the same fields. Also the DAG macro
    ``dapt_lineage_parent`` a pod's environment is rendered with (pods.LINEAGE_PARENT)."""
    import os
    import uuid

    try:
        from airflow.providers.openlineage.plugins.macros import lineage_parent_id

        return lineage_parent_id(ti)
    except Exception:  # provider absent or changed: lineage never fails the task
        key = f"airflow:{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.try_number}"
        run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    ns = os.environ.get("AIRFLOW__OPENLINEAGE__NAMESPACE", "default")
    return f"{ns}/{ti.dag_id}.{ti.task_id}/{run_id}"


def _fanout_plan(root: str, stage: str, cmd: str, per_task: int, lock_wait: int) -> list[list[str]]:
    """The mapped tasks' units: none when DVC would skip the stage (nothing to redo), else the
    units not staged yet (a retried run redoes only the units that did not finish)."""
    from airflow.sdk.exceptions import AirflowFailException

    from components.orchestration import runner

    try:
        if runner.up_to_date(root, stage, lock_wait):
            print(f"[orchestration] stage {stage}: up to date, no units to run")
            return []
        return runner.fanout_plan(root, cmd, per_task)
    except runner.NonRetryableError as exc:
        raise AirflowFailException(str(exc)) from exc


def _fanout_units(root: str, cmd: str, units: list[str]) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from components.orchestration import runner

    try:
        runner.run_units(root, cmd, units)
    except runner.NonRetryableError as exc:
        raise AirflowFailException(str(exc)) from exc


def _fanout_pod_arguments(
    root: str, stage: str, cmd: str, per_task: int, lock_wait: int
) -> list[list[str]]:
    from components.orchestration.pods import unit_arguments

    return unit_arguments(stage, _fanout_plan(root, stage, cmd, per_task, lock_wait))


def _gather_units(pod_input: str, results: list[Any] | None) -> str:
    """The stage pod's input: the prepare task's, plus every unit the mapped pods pushed."""
    payload = json.loads(pod_input)
    units: dict[str, Any] = {}
    for result in results or []:
        found = json.loads(result) if isinstance(result, str) else result
        units.update((found or {}).get("units", {}))
    print(f"[orchestration] {len(units)} unit(s) pushed by the unit pods")
    return json.dumps({**payload, "units": units})


def _push(root: str, enabled: bool, lock_wait: int) -> int:
    from components.orchestration import runner

    return runner.push(root, lock_wait=lock_wait) if enabled else 0


def _prepare(root: str, parents: list[str]) -> str:
    """Push the parents' outputs and tell the pod what to check its own checkout against:
    digests and the profile, never the files themselves (podrun.apply_input)."""
    from components.config import active_profile, read_params_file
    from components.orchestration import runner
    from components.orchestration.podrun import digests

    if parents:
        runner.push(root, parents)
    rootp = Path(root)
    return json.dumps(
        {
            "digests": digests(rootp),
            "profile": active_profile(read_params_file(rootp / "params.yaml")),
            "locks": runner.lock_entries(root, parents),
        }
    )


def _trainjob(root: str, stage: str, pod_input: str) -> dict[str, Any]:
    """A pretraining stage as a Kubeflow TrainJob: submitted, polled, its pods' logs shown; a
    failed job fails this task with the job's message (TrainJobFailed, retried: the retry
    replaces the failed job of this run)."""
    from airflow.sdk import get_current_context

    from components.orchestration.trainjob_run import run_stage_job

    try:
        run_id = str(get_current_context()["run_id"])
    except Exception:  # a direct call, outside a task
        run_id = ""
    return run_stage_job(root, stage, pod_input, run_id)


def _sync(root: str, stage: str, entry: dict[str, Any] | str) -> None:
    from components.orchestration import runner

    entries = json.loads(entry) if isinstance(entry, str) else entry
    runner.merge_lock(root, entries)
    runner.pull(root, [stage])


def _where(s: Settings, stage: str) -> str:
    if s.fans_out_to_pods(stage):
        return "pods (GPU), one per unit group, then the stage's pod"
    if s.runs_in_pod(stage):
        return "TrainJob (GPU)" if stage in s.params.kubernetes.trainjob_stages else "pod (GPU)"
    if s.runs_as_ray_job(stage):
        return f"Ray job at {s.ray_job_address}"
    return "local, fanned out" if s.fans_out(stage) else "local"


def _graph_doc(s: Settings) -> str:
    rows = "\n".join(
        f"| `{n}` | {', '.join(f'`{u}`' for u in s.graph.upstream[n]) or '-'} | {_where(s, n)} |"
        for n in s.graph.order
    )
    return (
        "| stage | after | runs |\n|---|---|---|\n" + rows + "\n\n"
        f"Generated from `{s.root / 'dvc.yaml'}` (profile `{s.profile}`, execution "
        f"`{s.execution}`). Each task runs `dvc repro --single-item <stage>`: stages whose "
        "deps, params and outs match dvc.lock are skipped. See docs/orchestration.md."
    )


def build_domain_adaptation(s: Settings, doc: str) -> DAG:
    p = s.params
    asset = corpus_asset(s)
    schedule: Any = (
        AssetOrTimeSchedule(timetable=cron(p.schedule), assets=[asset]) if p.schedule else [asset]
    )
    root = str(s.root)
    with DAG(
        dag_id="domain_adaptation",
        schedule=schedule,
        catchup=False,
        # One run at a time: runs share the workspace and its dvc.lock (see the pool too).
        max_active_runs=1,
        default_args=default_args(s),
        user_defined_macros={"dapt_lineage_parent": lineage_parent},
        tags=[*TAGS, "training"],
        doc_md=doc + "\n\n" + _graph_doc(s),
    ) as dag:
        first: dict[str, Any] = {}
        last: dict[str, Any] = {}
        ns = project_namespace(s.root)
        for name in s.graph.order:
            stage = s.graph.stages[name]
            doc_md = f"`dvc repro --single-item {name}` runs:\n\n```\n{stage.cmd}\n```"
            parents = list(s.graph.upstream[name])
            # The task that runs the stage declares its datasets, named as the stage events name
            # them, for the OpenLineage provider's task events (docs/lineage.md).
            inlets, outlets = inlets_outlets(s.graph, name, ns)
            lineage = {"inlets": inlets, "outlets": outlets}
            if s.runs_in_pod(name):
                prep = task(task_id=prepare_task_id(name), pool=p.pool, doc_md=doc_md)(_prepare)(
                    root, parents
                )
                if name in p.kubernetes.trainjob_stages:
                    hours = p.kubernetes.trainjob_timeout_hours + 1  # the job's deadline, then some
                    pod = task(
                        task_id=name,
                        doc_md=doc_md,
                        execution_timeout=timedelta(hours=hours),
                        **lineage,
                    )(_trainjob)(root, name, prep)
                    entry = pod
                elif s.fans_out_to_pods(name):
                    pod = _pod_fanout_tasks(s, name, doc_md, lineage, prep)
                    entry = pod.output
                else:
                    pod = _pod_task(s, name, doc_md, lineage)
                    entry = pod.output
                sync = task(task_id=sync_task_id(name), pool=p.pool)(_sync)(root, name, entry)
                prep >> pod
                first[name], last[name] = prep, sync
            elif s.fans_out(name):
                first[name], last[name] = _fanout_tasks(s, name, doc_md, lineage)
            else:
                run = _ray_job if s.runs_as_ray_job(name) else _stage
                t = task(task_id=name, pool=p.pool, doc_md=doc_md, **lineage)(run)(
                    root, name, p.lock_wait_seconds
                )
                first[name] = last[name] = t
            for parent in parents:
                last[parent] >> first[name]
        push = task(task_id="dvc_push", pool=p.pool, doc_md="Push new outputs to the DVC remote.")(
            _push
        )(root, p.push, p.lock_wait_seconds)
        leaves = [last[n] for n in s.graph.stages if not s.graph.downstream(n)]
        for leaf in leaves:
            leaf >> push
    return dag


def _fanout_tasks(s: Settings, name: str, doc_md: str, lineage: dict[str, list]):
    """plan -> one mapped task per ``fanout_units_per_task`` units -> the stage, in a group.

    The units write only their own staging folders, so they run outside the workspace pool,
    in parallel; the stage task (``dvc repro``) takes every unit staged with the key it would
    run it with, runs any other, and locks the one output (components/finetune/units.py).
    """
    p, root = s.params, str(s.root)
    cmd = s.graph.stages[name].cmd
    with TaskGroup(group_id=f"{name}_fanout", prefix_group_id=False, tooltip=f"{name} fanned out"):
        plan = task(task_id=f"{name}_plan", pool=p.pool, doc_md=f"`{cmd} --plan`")(_fanout_plan)(
            root, name, cmd, p.fanout_units_per_task, p.lock_wait_seconds
        )
        units = (
            task(
                task_id=f"{name}_units",
                max_active_tis_per_dagrun=p.fanout_max_parallel or None,
                doc_md=f"`{cmd} --unit <id>`: one task per {p.fanout_units_per_task} unit(s)",
            )(_fanout_units)
            .partial(root=root, cmd=cmd)
            .expand(units=plan)
        )
        # none_failed: an up-to-date stage maps zero units (skipped); dvc repro still decides.
        stage = task(
            task_id=name, pool=p.pool, doc_md=doc_md, trigger_rule="none_failed", **lineage
        )(_stage)(root, name, p.lock_wait_seconds)
        units >> stage
    return plan, stage


def _pod_task(s: Settings, name: str, doc_md: str, lineage: dict[str, list]):
    spec = pod_spec(name, s.params.kubernetes, gpu=True)
    return pod_operator_from_spec(spec, doc_md=doc_md, **lineage)


def _pod_fanout_tasks(s: Settings, name: str, doc_md: str, lineage: dict[str, list], prep: Any):
    """plan -> one pod per ``fanout_units_per_task`` units (mapped) -> gather -> the stage pod.

    The unit pods push their staged units to the DVC remote; the stage pod pulls them all,
    runs ``dvc repro`` (taking each unit staged with its key, running any other) and pushes the
    one output, as a plain pod stage does (podrun, unit_transfer)."""
    from components.orchestration.pods import mapped_pod_operator, unit_pod_spec

    p, root = s.params, str(s.root)
    cmd = s.graph.stages[name].cmd
    plan = task(task_id=f"{name}_plan", pool=p.pool, doc_md=f"`{cmd} --plan`")(
        _fanout_pod_arguments
    )(root, name, cmd, p.fanout_units_per_task, p.lock_wait_seconds)
    units = mapped_pod_operator(
        unit_pod_spec(name, p.kubernetes),
        plan,
        max_active_tis_per_dagrun=p.fanout_max_parallel or None,
        doc_md=f"`{cmd} --unit <id>` in a pod: {p.fanout_units_per_task} unit(s) per pod",
    )
    # none_failed: an up-to-date stage maps zero pods (skipped); the stage pod's dvc repro decides.
    gather = task(task_id=gather_task_id(name), trigger_rule="none_failed")(_gather_units)(
        prep, units.output
    )
    spec = pod_spec(name, p.kubernetes, gpu=True, input_task=gather_task_id(name))
    pod = pod_operator_from_spec(spec, doc_md=doc_md, **lineage)
    prep >> plan >> units
    gather >> pod
    return pod


def pod_operator_from_spec(spec: dict[str, Any], **kwargs: Any):
    from components.orchestration.pods import pod_operator  # provider import: only in pod mode

    return pod_operator(spec, **kwargs)
