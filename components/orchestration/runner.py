"""What the orchestrators' tasks execute: one DVC stage, a push, dvc.lock hand-over for pods.

Imported inside Airflow tasks (never at DAG parse time): it pulls in DVC.

Failures are sorted for the orchestrator: a stage command that exits 1 (bad input) or 2 (bad
parameters; components/cli.py) and DVC's own verdicts on the project (a missing dependency or
parameter) raise ``NonRetryableError``, which the task turns into a failure without retry;
everything else (a crash, a killed process, the network) is raised as is and retried. DVC's
workspace lock is waited for here, up to ``lock_wait`` seconds: a concurrent command can hold it
for as long as its stage runs, longer than any sensible retry delay.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml

from components.orchestration.dvc_rwlock import repair_rwlock
from components.remote import env_remote

T = TypeVar("T")
# Exit codes of `dapt` commands that mean "your input or params are wrong" (components/cli.py);
# 3 is an unexpected error, negative codes are signals: both may pass on another try.
NONRETRYABLE_EXIT = (1, 2)
LOCK_POLL_SECONDS = 5.0
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")


class NonRetryableError(RuntimeError):
    """A failure that another try cannot fix (bad data or parameters): fail without retry."""


def non_retryable(exc: BaseException) -> str | None:
    """Why ``exc`` (or what caused it) is not worth a retry, or None when it may be transient."""
    from dvc.dependency.param import MissingParamsError, MissingParamsFile
    from dvc.stage.exceptions import MissingDataSource, StageCmdFailedError

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, StageCmdFailedError):
            m = re.search(r"exited with (-?\d+)", str(e))
            if m and int(m.group(1)) in NONRETRYABLE_EXIT:
                kind = "input" if int(m.group(1)) == 1 else "parameter"
                return f"{e}: an {kind} error (the message above says what to fix)"
        if isinstance(e, MissingDataSource | MissingParamsError | MissingParamsFile):
            return f"{e}: the project is incomplete"
        if isinstance(e, FileNotFoundError):  # DVC hashing a dependency that is not there
            return f"{e}: a dependency is missing"
        e = e.__cause__ or e.__context__
    return None


def with_lock_wait(action: Callable[[], T], lock_wait: float, what: str) -> T:
    """Run a DVC action, waiting while another command holds the workspace lock."""
    from dvc.lock import LockError

    deadline = time.monotonic() + lock_wait
    announced = False
    while True:
        try:
            return action()
        except LockError:
            if time.monotonic() >= deadline:
                raise
            if not announced:
                wait = f"waiting up to {lock_wait:.0f} s"
                print(f"[orchestration] {what}: another command holds the DVC lock; {wait}")
                announced = True
            time.sleep(LOCK_POLL_SECONDS)


@contextlib.contextmanager
def plain_output() -> Iterator[None]:
    """Strip ANSI colour codes from everything written to stdout/stderr meanwhile, child
    processes included (DVC and the libraries the stages use colour their output even when it
    goes to a task log)."""
    sys.stdout.flush()
    sys.stderr.flush()
    redirected = []
    for fd in (1, 2):
        try:
            original = os.dup(fd)
        except OSError:  # no such stream in this process
            continue
        read, write = os.pipe()
        os.dup2(write, fd)
        os.close(write)
        pump = threading.Thread(target=_strip, args=(read, original), daemon=True)
        pump.start()
        redirected.append((fd, original, pump))
    # Python's own streams may not write to fd 1/2 (a runner's capture): point them there too.
    streams = sys.stdout, sys.stderr
    if len(redirected) == 2:
        sys.stdout, sys.stderr = (
            open(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
            for fd in (1, 2)
        )
    try:
        yield
    finally:
        if sys.stdout is not streams[0]:
            sys.stdout.close()
            sys.stderr.close()
        sys.stdout, sys.stderr = streams
        for fd, original, _ in redirected:
            os.dup2(original, fd)  # drops the pipe's last write end: the pump reads to the end
        for _, original, pump in redirected:
            pump.join(timeout=10)
            if not pump.is_alive():  # a stray child may still hold the pipe: then keep its fd
                os.close(original)


def _strip(read: int, out: int) -> None:
    pending = b""
    with os.fdopen(read, "rb", buffering=0) as src:
        while chunk := src.read(65536):
            data = pending + chunk
            cut = data.rfind(b"\x1b")  # keep a sequence split across reads for the next one
            if cut != -1 and not ANSI.match(data, cut):
                data, pending = data[:cut], data[cut:]
            else:
                pending = b""
            os.write(out, ANSI.sub(b"", data))
    if pending:
        os.write(out, ANSI.sub(b"", pending))


def tool_path() -> None:
    # Stage commands call `dapt`: use the console script of the interpreter running this task,
    # whatever PATH the worker was started with.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def ensure_profile(root: str | Path) -> None:
    """DVC tracks profile.yaml (untracked by git): a fresh checkout gets params.yaml's default."""
    from components.profiles import ensure_profile_file

    written = ensure_profile_file(Path(root) / "params.yaml")
    if written:
        print(f"[orchestration] no profile.yaml in {root}: wrote the default profile {written}")


def run_stage(root: str | Path, stage: str, lock_wait: float = 1800.0) -> dict[str, Any]:
    """``dvc repro --single-item <stage>`` through DVC's API; says whether the stage really ran.

    DVC skips the stage when its deps, params and outs match dvc.lock (or restores the outs from
    the run cache), so re-running a finished DAG is a no-op and a retried or re-triggered run
    redoes only what did not finish. First, what a killed earlier attempt left beside the
    stage's outputs is finished or removed (``recover``): a skipped stage never runs the code
    that would otherwise clean it.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    tool_path()
    ensure_profile(root)
    repaired = repair_rwlock(root)
    if repaired:
        print(f"[orchestration] stage {stage}: {repaired}")
    clean_leftovers(root, stage)
    start = time.perf_counter()

    def repro() -> Any:
        # DVC resolves stage names and paths against the working directory: a worker's is not
        # the project's.
        with contextlib.chdir(root), Repo(str(root)) as repo:
            return repo.reproduce(stage, single_item=True)

    try:
        with plain_output():
            ran = with_lock_wait(repro, lock_wait, f"stage {stage}")
    except DvcException as exc:
        why = non_retryable(exc)
        if why:
            raise NonRetryableError(f"stage {stage} failed, not retried: {why}") from exc
        raise
    seconds = round(time.perf_counter() - start, 3)
    if not ran:
        clear_resume_state(root, stage)
    result = {"stage": stage, "ran": bool(ran), "seconds": seconds}
    print(
        f"[orchestration] stage {stage}: {'ran' if ran else 'up to date, skipped'} in {seconds} s"
    )
    return result


def up_to_date(root: str | Path, stage: str, lock_wait: float = 1800.0) -> bool:
    """Whether ``dvc repro`` would skip ``stage`` (its deps, params and outs match dvc.lock)."""
    from dvc.repo import Repo

    ensure_profile(root)
    clean_leftovers(root, stage)

    def status() -> Any:
        with contextlib.chdir(root), Repo(str(root)) as repo:
            return repo.status(targets=[stage])

    with plain_output():
        return not with_lock_wait(status, lock_wait, f"dvc status {stage}")


def run_command(root: str | Path, argv: list[str]) -> None:
    """A stage's command outside DVC (fan-out: its plan, its units); exit 1 or 2 is not retried."""
    import subprocess

    tool_path()
    with plain_output():
        code = subprocess.run(argv, cwd=root, check=False).returncode
    if code in NONRETRYABLE_EXIT:
        raise NonRetryableError(f"{' '.join(argv)} exited with {code}: the message above says why")
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {code}")


def run_units(root: str | Path, cmd: str, units: list[str]) -> None:
    """A fanned-out stage's command for some of its units (a mapped task, a unit pod)."""
    import shlex

    run_command(root, [*shlex.split(cmd), *(a for u in units for a in ("--unit", u))])


def fanout_plan(root: str | Path, cmd: str, per_task: int) -> list[list[str]]:
    """The units the stage's ``--plan`` lists that are not staged yet, ``per_task`` per task."""
    import shlex
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        run_command(root, [*shlex.split(cmd), "--plan", str(path)])
        units = json.loads(path.read_text(encoding="utf-8"))["units"]
    todo = [u["id"] for u in units if not u["done"]]
    print(f"[orchestration] fan-out: {len(units)} units, {len(todo)} to run")
    return [todo[i : i + per_task] for i in range(0, len(todo), per_task)]


def clean_leftovers(root: str | Path, stage: str) -> list[str]:
    """Complete interrupted output swaps and remove dead writers' temporaries of ``stage``."""
    from components.data.outputs import recover
    from components.orchestration.graph import load

    graph = load(Path(root) / "dvc.yaml")
    if stage not in graph.stages:
        return []
    done = [d for out in graph.stages[stage].outs for d in recover(Path(root) / out)]
    for line in done:
        print(f"[orchestration] stage {stage}: {line}")
    return done


def clear_resume_state(root: str | Path, stage: str) -> None:
    """A stage DVC skipped has complete outputs: checkpoints beside them are what a run killed
    after writing its output but before clearing them left, and nothing will resume from them."""
    import shutil

    from components.data.outputs import resume_folder
    from components.orchestration.graph import load

    for out in load(Path(root) / "dvc.yaml").stages[stage].outs:
        folder = resume_folder(Path(root) / out)
        if folder.is_dir():
            shutil.rmtree(folder)
            print(f"[orchestration] stage {stage}: up to date, removed {folder.name}")


def push(
    root: str | Path,
    targets: list[str] | None = None,
    remote: str | None = None,
    lock_wait: float = 1800.0,
) -> int:
    """Push cached outputs to the DVC remote; returns the number of files transferred."""
    from dvc.repo import Repo

    name = remote or env_remote(root)  # registered before DVC opens the repo and its config

    def action() -> Any:
        with contextlib.chdir(root), Repo(str(root)) as repo:
            return repo.push(targets=targets, remote=name)

    with plain_output():
        pushed = with_lock_wait(action, lock_wait, "dvc push")
    print(f"[orchestration] dvc push: {pushed} file(s) transferred")
    return int(pushed or 0)


def pull(root: str | Path, targets: list[str]) -> None:
    from dvc.repo import Repo

    name = env_remote(root)
    with contextlib.chdir(root), Repo(str(root)) as repo:
        repo.pull(targets=targets, remote=name)


def lock_entries(root: str | Path, stages: list[str]) -> dict[str, Any]:
    """The dvc.lock entries of ``stages`` (what a pod needs to pull their outputs)."""
    path = Path(root) / "dvc.lock"
    lock = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    entries = (lock or {}).get("stages", {})
    missing = [s for s in stages if s not in entries]
    if missing:
        raise RuntimeError(f"dvc.lock has no entry for {', '.join(missing)}: run them first")
    return {s: entries[s] for s in stages}


def merge_lock(root: str | Path, entries: dict[str, Any]) -> None:
    """Write stage entries produced elsewhere (a pod, a Kubeflow step) into the local dvc.lock."""
    from components.data.writers import atomic_open

    path = Path(root) / "dvc.lock"
    lock = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    lock = lock or {"schema": "2.0", "stages": {}}
    lock.setdefault("stages", {}).update(entries)
    with atomic_open(path) as f:
        yaml.safe_dump(lock, f, sort_keys=False, allow_unicode=True)


def parse_locks(values: list[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for value in values:
        if value.strip():
            merged.update(json.loads(value))
    return merged
