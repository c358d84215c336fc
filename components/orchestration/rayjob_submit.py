"""A Ray stage as a Ray job: submitted from its Airflow task to the Ray Jobs API, polled, its logs
streamed into the task log, its failure the task's.

Under ``execution.engine: ray`` with ``RAY_ADDRESS`` naming a Jobs API (the dashboard's
``http(s)://host:8265``, as for ``ray job submit``), the tasks of the Ray stages
(components.execution.RAY_STAGES) submit, instead of running ``dvc repro`` themselves::

    python -m components.orchestration.rayjob_submit --root <workspace> --stage <stage>

which is what the local task runs, on the cluster: ``runner.run_stage`` (``dvc repro
--single-item <stage>``: the same skip when up to date, the same dvc.lock entry and cache, the
same clean-up of a killed try's leftovers), its driver the job's, so the stage's ``ray_session``
joins the cluster the job supervisor names in ``RAY_ADDRESS``. The cluster runs the stage image
and mounts the workspace at the path the Airflow workers use (docs/kuberay/), so there is no code
to ship and no output to copy back: the outputs and dvc.lock are in the workspace when the job
ends, and the DAG's ``dvc_push`` pushes them as before.

The job's submission id is derived from the workspace, the DAG run and the stage: a retried task
finds the job of its run and re-attaches to it when it is still going (a lost worker does not
start it twice), takes its result when it succeeded, and submits ``<id>-2``, ``<id>-3``... when
it failed or was stopped (Ray does not reuse a submission id). A task interrupted while it waits
(Airflow's timeout, a task marked failed) stops its job. Exit 2 of the job (bad input or
parameters, runner.NonRetryableError) fails the task without retry, like the local task.

Imported inside tasks only (the Jobs SDK is Ray's); tests/orchestration/test_rayjob_submit.py runs
it against a real Ray head with its job server.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.execution import ENGINE_ENV
from components.orchestration.lineage_names import PARENT_ENV

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
RESULT_MARKER = "[rayjob] result "
# Exit codes of the job-side wrapper: 2, nothing another try can fix; 3, anything else.
EXIT_NONRETRYABLE, EXIT_ERROR = 2, 3
# Sent with the job (shown on the dashboard, so never credentials): the engine the task decided
# on, the task run the stage's lineage events name as parent, where the stage logs its runs.
FORWARDED_ENV = (PARENT_ENV, "MLFLOW_TRACKING_URI", "OPENLINEAGE_NAMESPACE")
MAX_ATTEMPTS = 50
TAIL_LINES = 50


class RayJobFailed(RuntimeError):
    """The job ended FAILED or STOPPED: its id, status, Ray's message and its last log lines."""

    def __init__(self, job_id: str, status: str, message: str, tail: str, exit_code: int | None):
        self.job_id, self.status, self.exit_code = job_id, status, exit_code
        code = f", exit code {exit_code}" if exit_code is not None else ""
        text = f"Ray job {job_id} {status}{code}: {message or 'no message'}"
        super().__init__(text + (f"\n--- last log lines of {job_id}:\n{tail}" if tail else ""))


@dataclass
class JobOutcome:
    job_id: str
    status: str
    logs: str
    attached: bool  # an earlier try's job (re-attached to, or its result taken)


def submission_id(stage: str, run_id: str, root: str | Path, dag_id: str = "") -> str:
    """``dapt-<stage>-<run, readable>-<hash>``: the hash of workspace, DAG, run and stage keeps
    two projects (or DAGs) with the same run id on one cluster apart."""
    key = f"{Path(root).resolve()}\0{dag_id}\0{run_id}\0{stage}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9]+", "-", run_id).strip("-")[:40]
    return "-".join(p for p in ("dapt", stage, readable, digest) if p)


def attempt_ids(base: str) -> Iterator[str]:
    yield base
    for n in range(2, MAX_ATTEMPTS + 1):
        yield f"{base}-{n}"


def job_info(client, job_id: str):
    """The job's details, or None when the server has no job of that id."""
    try:
        return client.get_job_info(job_id)
    except RuntimeError as exc:  # the SDK's only signal: "Request failed with status code 404"
        if "status code 404" in str(exc):
            return None
        raise


def _status(info) -> str:
    return str(getattr(info.status, "value", info.status))


def submit_or_attach(
    client,
    base_id: str,
    entrypoint: str,
    *,
    metadata: Mapping[str, str] | None = None,
    runtime_env: Mapping[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[str, bool]:
    """(job id, attached): the latest attempt of ``base_id`` when it is pending, running or
    succeeded, else a new job under the next attempt id."""
    previous = None
    for job_id in attempt_ids(base_id):
        info = job_info(client, job_id)
        if info is None:
            break
        previous = (job_id, _status(info))
    else:
        raise RuntimeError(f"Ray job {base_id}: {MAX_ATTEMPTS} attempts already; not submitting")
    if previous and previous[1] not in ("FAILED", "STOPPED"):
        log(f"[rayjob] {previous[0]} of an earlier try is {previous[1]}: attaching to it")
        return previous[0], True
    if previous:
        log(f"[rayjob] {previous[0]} of an earlier try {previous[1]}: submitting {job_id}")
    submitted = client.submit_job(
        entrypoint=entrypoint,
        submission_id=job_id,
        metadata=dict(metadata or {}),
        runtime_env=dict(runtime_env) if runtime_env else None,
    )
    log(f"[rayjob] submitted {submitted}: {entrypoint}")
    return submitted, False


def _tail(logs: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(logs.rstrip().splitlines()[-lines:])


def wait(
    client,
    job_id: str,
    *,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    attached: bool = False,
) -> JobOutcome:
    """Poll until the job ends, writing its new log text as it comes; an interruption while
    waiting (a timeout or a kill of the task) stops the job first. Raises RayJobFailed."""
    shown, last, start = 0, None, time.monotonic()
    while True:
        info = client.get_job_info(job_id)
        status = _status(info)
        logs = client.get_job_logs(job_id)
        if len(logs) < shown:  # rotated or replaced: show it from the start again
            shown = 0
        if logs[shown:]:
            log(logs[shown:].rstrip("\n"))
            shown = len(logs)
        if status != last:
            log(f"[rayjob] {job_id}: {status}")
            last = status
        if status in TERMINAL:
            if status != "SUCCEEDED":
                code = getattr(info, "driver_exit_code", None)
                raise RayJobFailed(job_id, status, info.message or "", _tail(logs), code)
            return JobOutcome(job_id, status, logs, attached)
        if timeout_seconds is not None and time.monotonic() - start > timeout_seconds:
            stop(client, job_id, log, f"still {status} after {timeout_seconds} s")
            raise TimeoutError(f"Ray job {job_id} still {status} after {timeout_seconds} s")
        try:
            sleep(poll_seconds)
        except BaseException:
            stop(client, job_id, log, "the task was interrupted")
            raise


def stop(client, job_id: str, log: Callable[[str], None], why: str) -> None:
    try:
        client.stop_job(job_id)
        log(f"[rayjob] {why}: stopped {job_id}")
    except Exception as exc:  # the original interruption is what the task must report
        log(f"[rayjob] {why}: could not stop {job_id} ({exc}); stop it on the dashboard")


def stage_entrypoint(root: str | Path, stage: str, lock_wait: float) -> str:
    """The job's command: this module's wrapper, run by the cluster's (the stage image's)
    Python in the workspace, at the path the task has it."""
    args = ["--root", str(root), "--stage", stage, "--lock-wait", str(int(lock_wait))]
    return shlex.join(["python", "-m", "components.orchestration.rayjob_submit", *args])


def job_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The job's environment: ``DAPT_ENGINE=ray`` (the task's decision holds on the cluster,
    whatever its own environment says) and FORWARDED_ENV when set in the task's."""
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in FORWARDED_ENV if environ.get(k)}
    return {ENGINE_ENV: "ray", **env}


def result_of(logs: str) -> dict[str, Any] | None:
    """The stage's result (stage, ran, seconds) the wrapper printed last, if any."""
    for line in reversed(logs.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    return None


def run_stage_job(
    root: str | Path,
    stage: str,
    *,
    address: str,
    run_id: str = "",
    dag_id: str = "",
    lock_wait: float = 1800.0,
    poll_seconds: float = 5.0,
    client=None,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """What the Airflow task of a Ray stage does: submit (or re-attach to) the stage's job, wait,
    return the result ``runner.run_stage`` gave on the cluster. A job that exits 1 or 2 raises
    runner.NonRetryableError (not retried), any other failure RayJobFailed (retried)."""
    from components.orchestration import runner

    if client is None:
        from ray.job_submission import JobSubmissionClient

        client = JobSubmissionClient(address)
    # No run (a direct call): a fresh id, since there is no earlier try to find.
    run_id = run_id or f"direct-{time.time_ns()}"
    job_id, attached = submit_or_attach(
        client,
        submission_id(stage, run_id, root, dag_id),
        stage_entrypoint(root, stage, lock_wait),
        metadata={"dapt_stage": stage, "dapt_run_id": run_id, "dapt_dag_id": dag_id},
        runtime_env={"env_vars": job_env()},
        log=log,
    )
    try:
        outcome = wait(
            client, job_id, poll_seconds=poll_seconds, log=log, sleep=sleep, attached=attached
        )
    except RayJobFailed as exc:
        if exc.exit_code in runner.NONRETRYABLE_EXIT:
            raise runner.NonRetryableError(f"stage {stage} failed, not retried: {exc}") from exc
        raise
    result = result_of(outcome.logs)
    if result is None:
        raise RuntimeError(
            f"Ray job {job_id} of stage {stage} succeeded but printed no result line "
            f"({RESULT_MARKER.strip()}): its entrypoint is not {stage_entrypoint(root, stage, 0)}"
        )
    return {**result, "ray_job": job_id}


def main(argv: list[str] | None = None) -> int:
    """The job side: ``runner.run_stage`` in the workspace, its result as a marked line."""
    from components.orchestration import runner

    p = argparse.ArgumentParser(prog="rayjob_submit", description="run a stage as a Ray job")
    p.add_argument("--root", required=True, help="the workspace, at the path the task sees it")
    p.add_argument("--stage", required=True)
    p.add_argument("--lock-wait", type=float, default=1800.0)
    args = p.parse_args(argv)
    root = Path(args.root)
    if not (root / "dvc.yaml").is_file():
        print(
            f"[rayjob] error: no dvc.yaml in {root} on this Ray node: mount the workspace at the "
            "path the Airflow workers use (DAPT_PROJECT_ROOT; docs/kuberay/)",
            file=sys.stderr,
        )
        return EXIT_NONRETRYABLE
    try:
        result = runner.run_stage(root, args.stage, lock_wait=args.lock_wait)
    except runner.NonRetryableError as exc:
        print(f"[rayjob] error: {exc}", file=sys.stderr)
        return EXIT_NONRETRYABLE
    except Exception:
        traceback.print_exc()
        return EXIT_ERROR
    print("\n" + RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
