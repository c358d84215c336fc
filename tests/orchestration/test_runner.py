"""What a stage task does with failures, a held DVC lock and coloured output (real DVC)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from dvc.exceptions import DvcException
from dvc.lock import LockError

from components.orchestration import runner
from tests.conftest import tool_env


def test_bad_input_and_params_are_not_retried_crashes_are(project):
    for stage in ("bad_input", "bad_params", "missing"):
        with pytest.raises(runner.NonRetryableError, match="not retried"):
            runner.run_stage(project, stage, lock_wait=0)
    with pytest.raises(DvcException) as crashed:
        runner.run_stage(project, "crash", lock_wait=0)
    assert not isinstance(crashed.value, runner.NonRetryableError)
    # the workspace had no profile.yaml: the task wrote params.yaml's default for DVC
    assert "profile: smoke" in (project / "profile.yaml").read_text(encoding="utf-8")


def test_a_held_dvc_lock_is_waited_for(project, monkeypatch, capfd):
    monkeypatch.setattr(runner, "LOCK_POLL_SECONDS", 0.5)
    hold = "import sys, time, zc.lockfile; l = zc.lockfile.LockFile(sys.argv[1]); print('held', flush=True); time.sleep(float(sys.argv[2]))"  # fmt: skip
    lock = str(project / ".dvc/tmp/lock")
    holder = subprocess.Popen([sys.executable, "-c", hold, lock, "6"], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"held"
    start = time.monotonic()
    assert runner.run_stage(project, "ok", lock_wait=120)["ran"] is True
    assert time.monotonic() - start > 3  # it did wait for the other command
    assert "another command holds the DVC lock" in capfd.readouterr().out
    holder.wait()

    holder = subprocess.Popen([sys.executable, "-c", hold, lock, "30"], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"held"
    with pytest.raises(LockError):  # past lock_wait: raised, and Airflow retries the task
        runner.run_stage(project, "ok", lock_wait=0)
    holder.kill()
    holder.wait()


def test_plain_output_strips_colour_codes_of_this_process_and_its_children(capfd):
    with runner.plain_output():
        print("\x1b[1;31mred\x1b[0m from python", flush=True)
        subprocess.run(["printf", "\\033[33myellow\\033[0m from a child\\n"], check=True)
        print("\x1b[2Kerased line", file=sys.stderr, flush=True)
    out, err = capfd.readouterr()
    assert out == "red from python\nyellow from a child\n"
    assert err == "erased line\n"


def test_fanout_plan_skips_an_up_to_date_stage_and_maps_the_units_not_staged(project):
    """What the fanned-out group's plan and unit tasks call (airflow_dags._fanout_*)."""
    assert not runner.up_to_date(project, "ok", lock_wait=0)  # never ran
    runner.run_stage(project, "ok", lock_wait=0)
    assert runner.up_to_date(project, "ok", lock_wait=0)
    (project / "ok.txt").write_text("changed\n", encoding="utf-8")
    assert not runner.up_to_date(project, "ok", lock_wait=0)

    # a stage command that takes --plan FILE, as `dapt finetune` does
    units = [{"id": i, "done": i == "b"} for i in ("a", "b", "c", "d")]
    script = f"import json, sys; json.dump({{'units': {units!r}}}, open(sys.argv[-1], 'w'))"
    (project / "plan.py").write_text(script, encoding="utf-8")
    cmd = f"{sys.executable} plan.py --out x"
    assert runner.fanout_plan(project, cmd, 2) == [["a", "c"], ["d"]]
    assert runner.fanout_plan(project, cmd, 1) == [["a"], ["c"], ["d"]]
    with pytest.raises(runner.NonRetryableError, match="exited with 2"):
        runner.run_command(project, [sys.executable, "-c", "raise SystemExit(2)"])
    with pytest.raises(RuntimeError, match="exited with 3") as crashed:
        runner.run_command(project, [sys.executable, "-c", "raise SystemExit(3)"])
    assert not isinstance(crashed.value, runner.NonRetryableError)  # retried


def test_a_skipped_stage_loses_the_checkpoints_a_kill_after_its_output_left(project):
    """Killed after writing its output, before clearing its checkpoints: the output matches
    dvc.lock, so DVC skips the stage, and the runner removes what nothing will resume from."""
    assert runner.run_stage(project, "ok", lock_wait=0)["ran"]
    ckpt = project / "ok.txt.checkpoints"
    (ckpt / "step-4").mkdir(parents=True)
    (ckpt / "step-4" / "state.pt").write_bytes(b"x")
    assert not runner.run_stage(project, "ok", lock_wait=0)["ran"]
    assert not ckpt.exists()
    # a stage that runs keeps them until its own code clears them (it resumes from them)
    (ckpt / "step-4").mkdir(parents=True)
    (project / "ok.txt").unlink()
    assert runner.run_stage(project, "ok", lock_wait=0)["ran"]
    assert ckpt.exists()


def test_a_remote_url_in_the_environment_is_where_push_and_pull_go(project, tmp_path, monkeypatch):
    """DAPT_DVC_REMOTE is a URL (orchestration.kubernetes.dvc_remote, `dapt push`): DVC takes
    remote names, so the runner registers it (components/remote.py) before pushing or pulling."""
    remote = tmp_path / "remote"
    remote.mkdir()
    monkeypatch.setenv("DAPT_DVC_REMOTE", str(remote))
    runner.run_stage(project, "ok", lock_wait=0)
    assert runner.push(project, ["ok"], lock_wait=0) == 1
    assert any(p.is_file() for p in remote.rglob("*"))
    (project / "ok.txt").unlink()
    subprocess.run(["dvc", "cache", "dir", str(tmp_path / "empty-cache")], cwd=project, check=True, env=tool_env())  # fmt: skip
    runner.pull(project, ["ok"])
    assert (project / "ok.txt").read_text(encoding="utf-8") == "ok\n"
