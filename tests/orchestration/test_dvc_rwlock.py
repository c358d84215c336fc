"""A DVC command killed while rewriting .dvc/tmp/rwlock leaves truncated JSON (real DVC)."""

from __future__ import annotations

import json
import subprocess
import sys

# DVC binds its log handlers to sys.stdout when first imported: import it at collection, not
# inside a test's capfd (closed after that test, and DVC would then log to a closed file).
import dvc.logger  # noqa: F401
import pytest

from components.orchestration import runner
from components.orchestration.dvc_rwlock import RWLockInUseError, repair_rwlock
from tests.conftest import tool_env


def _truncated(pid: int) -> bytes:
    """What DVC's in-place rewrite leaves when killed after its first 8 KiB block (as in CI),
    cut inside a pid's digits: the partial number (1 of 1<pid>) is not a process it names."""
    lock = {"write": {f"data/out{i}.jsonl": {"pid": pid, "cmd": "dvc repro -f -s report"}
                      for i in range(200)}, "read": {}}  # fmt: skip
    text = json.dumps(lock).encode()
    cut = text.index(b'"pid": ', 8000) + len(b'"pid": ')
    text = text[:cut] + b"1" + text[cut:]  # the last pid starts with a 1 (pid 1 is alive)
    return text[: cut + 1]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_dvc_itself_fails_on_it_and_the_runner_moves_it_aside(project, capfd):
    rwlock = project / ".dvc/tmp/rwlock"
    rwlock.parent.mkdir(exist_ok=True)
    broken = _truncated(_dead_pid())
    rwlock.write_bytes(broken)
    cli = subprocess.run(
        ["dvc", "repro", "-s", "ok"], cwd=project, env=tool_env(), capture_output=True, text=True
    )
    assert cli.returncode != 0 and "RWLock-file" in cli.stderr and "corrupted" in cli.stderr

    assert runner.run_stage(project, "ok", lock_wait=0)["ran"] is True
    out = capfd.readouterr().out
    assert "truncated JSON" in out and "rwlock.corrupted" in out
    # kept for a person to look at
    assert (project / ".dvc/tmp/rwlock.corrupted").read_bytes() == broken
    assert json.loads(rwlock.read_text(encoding="utf-8"))  # DVC wrote a fresh, readable one
    assert (project / "ok.txt").read_text(encoding="utf-8") == "ok\n"


def test_a_live_process_named_in_it_is_waited_for_not_dropped(project):
    rwlock = project / ".dvc/tmp/rwlock"
    rwlock.parent.mkdir(exist_ok=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rwlock.write_bytes(_truncated(sleeper.pid))
        with pytest.raises(RWLockInUseError, match=rf"process\(es\) {sleeper.pid} named in it"):
            runner.run_stage(project, "ok", lock_wait=0)
        assert rwlock.read_bytes() == _truncated(sleeper.pid)  # untouched
        assert not (project / ".dvc/tmp/rwlock.corrupted").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert "moved it to rwlock.corrupted" in repair_rwlock(project)


def test_a_readable_or_absent_lock_file_is_left_alone(project):
    assert repair_rwlock(project) is None  # absent
    runner.run_stage(project, "ok", lock_wait=0)
    rwlock = project / ".dvc/tmp/rwlock"
    before = rwlock.read_bytes()
    assert repair_rwlock(project) is None
    assert rwlock.read_bytes() == before
