"""A Ray stage submitted as a Ray job (rayjob_submit) against a real Ray head with its job server.

One head for the module (``ray start --head --block`` on free ports, its own temp dir, in its own
process group, stopped at the end): about 5-10 s to start, then a few seconds per job. It is not
the session's ``ray_cluster`` (an in-process driver without a dashboard): the Jobs API is served
by the dashboard, which that fixture leaves off.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from components.orchestration import rayjob_submit as rj
from components.orchestration import runner
from tests.conftest import VENV_BIN, tool_env

pytestmark = [pytest.mark.rayjobs, pytest.mark.xdist_group("rayjobs")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head():
    """(address, client) of a one-CPU Ray head with its dashboard on a free port (never 8265:
    other Rays may run on this machine)."""
    from ray.job_submission import JobSubmissionClient

    # Short: Ray's socket paths live under it (a Unix socket path is limited to 107 bytes).
    temp = tempfile.mkdtemp(prefix="dapt-rayjob-", dir="/tmp")
    dashboard = _free_port()
    cmd = [str(VENV_BIN / "ray"), "start", "--head", "--block", "--num-cpus=1"]
    cmd += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", "--disable-usage-stats"]
    cmd += [f"--dashboard-port={dashboard}", f"--port={_free_port()}", f"--temp-dir={temp}"]
    cmd += [f"--dashboard-agent-listen-port={_free_port()}"]
    cmd += [f"--ray-client-server-port={_free_port()}", "--object-store-memory=100000000"]
    env = tool_env(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS", None)
    out = open(Path(temp) / "head.log", "w+b")  # noqa: SIM115 (read back on failure)
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                client = JobSubmissionClient(address)
                break
            except ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out.seek(0)
                    pytest.fail(f"ray head did not start: {out.read().decode()[-3000:]}")
                time.sleep(0.5)
        yield address, client
    finally:
        proc.terminate()  # --block: ray start stops what it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(60)
        with contextlib.suppress(ProcessLookupError):  # what is left in its process group
            os.killpg(proc.pid, signal.SIGKILL)
        out.close()
        shutil.rmtree(temp, ignore_errors=True)


def py(code: str) -> str:
    return f"python -c {code!r}"


def fast(client, job_id, lines: list[str] | None = None):
    return rj.wait(client, job_id, poll_seconds=0.5, log=(lines.append if lines is not None else lambda s: None))  # fmt: skip


def test_a_job_runs_once_streams_its_logs_and_a_retry_attaches_to_it(head, tmp_path):
    _, client = head
    marker = tmp_path / "runs.txt"
    entry = py(f"open({str(marker)!r}, 'a').write('ran\\n'); print('hello from the job')")
    base = rj.submission_id("mine", "manual__2026-12-03T13:00:00+00:00", tmp_path, "dag")
    assert base.startswith("dapt-mine-manual-2026-12-03T13-00-00-00-00-")
    assert base != rj.submission_id("mine", "manual__2026-12-03T13:00:00+00:00", tmp_path / "x")
    job_id, attached = rj.submit_or_attach(client, base, entry, metadata={"dapt_stage": "mine"})
    assert (job_id, attached) == (base, False)
    # A retry while it runs, or after it succeeded, takes the same job: it never runs twice.
    again, attached = rj.submit_or_attach(client, base, entry, log=lambda s: None)
    assert (again, attached) == (base, True)
    lines: list[str] = []
    outcome = fast(client, job_id, lines)
    assert outcome.status == "SUCCEEDED" and "hello from the job" in outcome.logs
    assert any("hello from the job" in line for line in lines)  # streamed into the task log
    assert rj.submit_or_attach(client, base, entry, log=lambda s: None) == (base, True)
    assert marker.read_text() == "ran\n"
    assert client.get_job_info(job_id).metadata["dapt_stage"] == "mine"


def test_a_failed_job_raises_its_id_status_and_last_lines_and_a_retry_resubmits(head, tmp_path):
    _, client = head
    base = rj.submission_id("newwords", "run-fail", tmp_path)
    entry = py("import sys; print('bad row 7 in data/x.jsonl'); sys.exit(3)")
    job_id, _ = rj.submit_or_attach(client, base, entry, log=lambda s: None)
    with pytest.raises(rj.RayJobFailed) as failed:
        fast(client, job_id)
    text = str(failed.value)
    assert f"Ray job {base} FAILED, exit code 3" in text and "bad row 7 in data/x.jsonl" in text
    assert failed.value.exit_code == 3 and failed.value.status == "FAILED"
    # Airflow's retry of that task: a new job, the failed one kept for its logs.
    assert rj.submit_or_attach(client, base, entry, log=lambda s: None) == (f"{base}-2", False)


def test_an_interrupted_task_stops_its_job(head, tmp_path):
    _, client = head
    job_id, _ = rj.submit_or_attach(client, rj.submission_id("mine", "run-stop", tmp_path), py("import time; time.sleep(120)"), log=lambda s: None)  # fmt: skip

    def timeout(seconds):  # what Airflow's execution_timeout raises in the task
        raise KeyboardInterrupt

    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        rj.wait(client, job_id, poll_seconds=1, log=lines.append, sleep=timeout)
    assert any(f"stopped {job_id}" in line for line in lines)
    deadline = time.monotonic() + 60
    while client.get_job_status(job_id) != "STOPPED":  # a str enum
        assert time.monotonic() < deadline, client.get_job_status(job_id)
        time.sleep(0.5)


@pytest.fixture
def project(tmp_path):
    """A DVC workspace with one stage that works and one with bad parameters (exit 2)."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "params.yaml").write_text("profile: smoke\n", encoding="utf-8")
    (root / "profile.yaml").write_text("profile: smoke\n", encoding="utf-8")
    stages = {
        "decontaminate": {
            "cmd": 'echo "$DAPT_ENGINE $RAY_ADDRESS" > out.txt && echo "[decontaminate] done"',
            "outs": ["out.txt"],
        },
        "mine": {"cmd": "echo 'mine: --budget must be > 0' >&2; exit 2", "outs": ["m.txt"]},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}), encoding="utf-8")
    env = tool_env()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True, env=env)
    return root


def test_the_stage_task_runs_dvc_repro_as_a_job_and_keeps_the_bookkeeping(head, project):
    """What airflow_dags._ray_job does: the job runs runner.run_stage in the workspace (dvc.lock
    and the cache are written there), the task returns its result; bad parameters (exit 2)
    fail the task without retry, with the job's id and the stage's message."""
    address, client = head
    lines: list[str] = []
    result = rj.run_stage_job(project, "decontaminate", address=address, run_id="r1", client=client, poll_seconds=0.5, log=lines.append)  # fmt: skip
    assert result["stage"] == "decontaminate" and result["ran"] is True
    assert result["ray_job"] == rj.submission_id("decontaminate", "r1", project)
    lock = yaml.safe_load((project / "dvc.lock").read_text(encoding="utf-8"))
    assert lock["stages"]["decontaminate"]["outs"][0]["path"] == "out.txt"
    # The stage command saw the task's engine, and the cluster's own address from the job
    # supervisor (joined by ray_session), never the Jobs API one: no job submits another.
    engine, seen = (project / "out.txt").read_text().split()
    assert engine == "ray" and seen != address and not seen.startswith("http")
    assert any("[decontaminate] done" in line for line in lines)
    info = client.get_job_info(result["ray_job"])
    assert info.runtime_env["env_vars"]["DAPT_ENGINE"] == "ray"
    assert info.metadata == {"dapt_stage": "decontaminate", "dapt_run_id": "r1", "dapt_dag_id": ""}

    with pytest.raises(runner.NonRetryableError) as bad:
        rj.run_stage_job(project, "mine", address=address, run_id="r1", client=client, poll_seconds=0.5, log=lambda s: None)  # fmt: skip
    text = str(bad.value)
    assert "not retried" in text and rj.submission_id("mine", "r1", project) in text
    assert "exit code 2" in text and "--budget must be > 0" in text


def test_the_job_side_refuses_a_workspace_it_cannot_see(tmp_path, capsys):
    assert rj.main(["--root", str(tmp_path / "elsewhere"), "--stage", "mine"]) == 2
    assert "mount the workspace at the path the Airflow workers use" in capsys.readouterr().err
