"""Submit a TrainJob, poll it to the end, surface its pods' logs, fail with its message.

Uses the ``kubernetes`` client's CustomObjectsApi (the TrainJob) and CoreV1Api (its pods, which
JobSet labels ``jobset.sigs.k8s.io/jobset-name=<job>``). States, from the job's conditions
(kubeflow/trainer ``trainjob_types.go``): ``Complete`` or ``Failed`` with status True end it;
``Suspended`` True waits; anything else is pending (no status yet) or running (child jobs active).
Tested against recorded API responses (tests/orchestration/fixtures/trainjob/).

``python -m components.orchestration.trainjob_run --stage S [--locks JSON ...] --out PATH`` is
the Kubeflow pipeline's step for such a stage: the same job as the Airflow task submits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.orchestration.lineage_names import PARENT_ENV
from components.orchestration.pods import POD_INPUT_ENV, PODRUN, lineage_env
from components.orchestration.trainjob import (
    GROUP,
    LOCK_MARKER,
    NODE_CONTAINER,
    PLURAL,
    VERSION,
    trainjob_manifest,
    trainjob_name,
)

JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"


class TrainJobFailed(RuntimeError):
    """The job ended Failed; the text carries its condition's reason and message and the failed
    pods' termination messages and last log lines."""

    def __init__(self, name: str, reason: str, message: str, details: str = "") -> None:
        self.name, self.reason, self.message, self.details = name, reason, message, details
        text = f"TrainJob {name} failed ({reason}): {message}"
        super().__init__(text + (f"\n{details}" if details else ""))


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            return c
    return None


def job_state(obj: dict[str, Any]) -> tuple[str, str, str]:
    """(state, reason, message): state is pending, running, suspended, complete or failed."""
    for kind, state in (("Failed", "failed"), ("Complete", "complete"), ("Suspended", "suspended")):
        c = _condition(obj, kind)
        if c is not None:
            return state, c.get("reason", ""), c.get("message", "")
    jobs = (obj.get("status") or {}).get("jobsStatus") or []
    if any(j.get("active", 0) or j.get("ready", 0) for j in jobs):
        return "running", "", ""
    return "pending", "", ""


def _api(api_client=None):
    from kubernetes import client, config

    if api_client is None:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            # KUBECONFIG as it is now: the client reads the variable once, at its import.
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        api_client = client.ApiClient()
    return client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)


def submit(custom, manifest: dict[str, Any]) -> dict[str, Any]:
    """Create the job; a job of that name left by an earlier try is re-attached to when it is
    still going or done, and replaced when it failed (an Airflow retry gets a fresh job)."""
    from kubernetes.client.exceptions import ApiException

    ns, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    try:
        return custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, manifest)
    except ApiException as exc:
        if exc.status != 409:
            raise
    existing = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    if job_state(existing)[0] != "failed":
        return existing
    custom.delete_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, name, propagation_policy="Foreground"
    )
    for _ in range(120):  # foreground deletion: wait until the name is free
        try:
            custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
        except ApiException as exc:
            if exc.status == 404:
                break
            raise
        time.sleep(1)
    return custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, manifest)


def pod_reports(core, name: str, namespace: str, tail_lines: int) -> list[dict[str, Any]]:
    """Per pod of the job (node 0 first): name, phase, termination and the last log lines."""
    pods = core.list_namespaced_pod(namespace, label_selector=f"{JOBSET_LABEL}={name}").items
    out = []
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        term = None
        for cs in (pod.status.container_statuses or []) if pod.status else []:
            if cs.name == NODE_CONTAINER and cs.state and cs.state.terminated:
                t = cs.state.terminated
                term = {"exit_code": t.exit_code, "reason": t.reason, "message": t.message}
        logs = ""
        if tail_lines:
            # Raw bytes: with preloading, the client returns str(bytes) ("b'...\\n...'") for logs.
            resp = core.read_namespaced_pod_log(
                pod.metadata.name,
                namespace,
                container=NODE_CONTAINER,
                tail_lines=tail_lines,
                _preload_content=False,
            )
            logs = resp.data.decode("utf-8", errors="replace")
        phase = pod.status.phase if pod.status else None
        out.append({"pod": pod.metadata.name, "phase": phase, "terminated": term, "logs": logs})
    return out


def _details(reports: list[dict[str, Any]]) -> str:
    parts = []
    for r in reports:
        t = r["terminated"] or {}
        head = f"--- pod {r['pod']} ({r['phase']}"
        if t:
            head += f", exit {t['exit_code']} {t['reason'] or ''}".rstrip()
        parts.append(head + ")")
        if t.get("message"):
            parts.append(f"termination message: {t['message'].strip()}")
        if r["logs"]:
            parts.append(r["logs"].rstrip())
    return "\n".join(parts)


def wait(
    custom,
    core,
    name: str,
    namespace: str,
    *,
    poll_seconds: float = 30,
    timeout_seconds: float = 48 * 3600,
    tail_lines: int = 200,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Poll until the job ends; returns the pod reports, or raises TrainJobFailed/TimeoutError."""
    start, last = time.monotonic(), None
    while True:
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        state, reason, message = job_state(obj)
        if state != last:
            log(f"[trainjob] {namespace}/{name}: {state}" + (f" ({reason}: {message})" if reason else ""))  # fmt: skip
            last = state
        if state in ("complete", "failed"):
            reports = pod_reports(core, name, namespace, tail_lines)
            for r in reports:
                if r["logs"]:
                    log(f"[trainjob] --- logs of {r['pod']} (last {tail_lines} lines)")
                    log(r["logs"].rstrip())
            if state == "failed":
                raise TrainJobFailed(name, reason, message, _details(reports))
            return reports
        if time.monotonic() - start > timeout_seconds:
            raise TimeoutError(
                f"TrainJob {namespace}/{name} still {state} after {timeout_seconds} s"
            )
        sleep(poll_seconds)


def lock_entry(reports: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The stage's dvc.lock entry that node 0's ``podrun --print-lock`` printed, if any."""
    for r in reports:
        for line in reversed(r["logs"].splitlines()):
            if line.startswith(LOCK_MARKER):
                return json.loads(line[len(LOCK_MARKER) :])
    return None


def run_trainjob(
    manifest: dict[str, Any],
    *,
    api_client=None,
    poll_seconds: float = 30,
    timeout_seconds: float = 48 * 3600,
    tail_lines: int = 200,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Submit ``manifest`` and wait for it (what an Airflow task calls)."""
    custom, core = _api(api_client)
    created = submit(custom, manifest)
    meta = created["metadata"]
    log(f"[trainjob] submitted {meta['namespace']}/{meta['name']} (uid {meta.get('uid', '?')})")
    return wait(
        custom,
        core,
        meta["name"],
        meta["namespace"],
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
        tail_lines=tail_lines,
        log=log,
        sleep=sleep,
    )


def stage_job(root: str | Path, stage: str, pod_input: str, run_id: str = "") -> dict[str, Any]:
    """The TrainJob of a pretraining stage as its Airflow task submits it: nodes and processes
    per node from ``pretrain.distributed``, the prepare task's input (digests, profile, the
    parents' dvc.lock entries) in the environment ``podrun`` reads, named after the DAG run so
    a retry finds (and replaces) the failed job of its own run."""
    from components.config import load_section
    from components.orchestration.settings import load_settings

    s = load_settings(root)
    dist = load_section("pretrain", Path(root) / "params.yaml", profile=s.profile).distributed
    # The same OpenLineage settings a pod gets, but the parent is this task's own run, set in
    # the environment by the task wrapper (a TrainJob's env is not rendered by Airflow).
    env = {POD_INPUT_ENV: pod_input, **lineage_env(s.params.kubernetes)}
    env.pop(PARENT_ENV)
    if os.environ.get(PARENT_ENV):
        env[PARENT_ENV] = os.environ[PARENT_ENV]
    return trainjob_manifest(
        stage,
        [*PODRUN, "--stage", stage, "--print-lock"],
        s.params.kubernetes,
        nodes=dist.nnodes,
        procs_per_node=dist.nproc_per_node,
        name=trainjob_name(stage, run_id),
        env=env,
    )


def run_stage_job(
    root: str | Path,
    stage: str,
    pod_input: str,
    run_id: str = "",
    *,
    api_client=None,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Submit the stage's TrainJob, wait, return the dvc.lock entry node 0 printed (the sync
    task merges it). A failed job raises TrainJobFailed, so the task fails with the job's
    reason and message and its pods' termination messages and last log lines."""
    from components.orchestration.settings import load_settings

    k8s = load_settings(root).params.kubernetes
    reports = run_trainjob(
        stage_job(root, stage, pod_input, run_id),
        api_client=api_client,
        poll_seconds=k8s.trainjob_poll_seconds,
        timeout_seconds=k8s.trainjob_timeout_hours * 3600,
        tail_lines=k8s.trainjob_log_lines,
        log=log,
        sleep=sleep,
    )
    entry = lock_entry(reports)
    if entry is None:
        raise RuntimeError(
            f"TrainJob of stage {stage} completed, but node 0 printed no dvc.lock entry "
            f"({LOCK_MARKER.strip()}): its logs above say why"
        )
    return entry


def main(argv: list[str] | None = None) -> int:
    """A Kubeflow step: the stage's TrainJob with the parents' lock entries from upstream steps;
    writes the stage's dvc.lock entry to ``--out``. The job is named after its input (what the
    pod checks and pulls), so a rerun of a finished step with the same input re-attaches to its
    completed job, as KFP's cache would, and a different input gets a new job."""
    from components.config import active_profile, read_params_file
    from components.orchestration import runner
    from components.orchestration.podrun import digests

    p = argparse.ArgumentParser(prog="trainjob_run", description=__doc__.splitlines()[0])
    p.add_argument("--stage", required=True)
    p.add_argument("--locks", action="append", default=[], help="JSON {stage: lock entry}")
    p.add_argument("--out", required=True, help="write the stage's lock entry here")
    p.add_argument("--root", default=".")
    args = p.parse_args(argv)
    root = Path(args.root).resolve()
    payload = {
        "digests": digests(root),
        "profile": active_profile(read_params_file(root / "params.yaml")),
        "locks": runner.parse_locks(args.locks),
    }
    pod_input = json.dumps(payload, sort_keys=True)
    run_id = "kfp-" + hashlib.sha256(pod_input.encode()).hexdigest()[:12]
    entry = run_stage_job(root, args.stage, pod_input, run_id)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(entry), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
