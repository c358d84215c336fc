"""A fanned-out stage on Kubernetes, without a cluster: unit pods and the stage pod are podrun
processes in separate clones of one project, sharing only a real DVC remote (a local folder).

The stage here is a small script with the fan-out contract of `dapt finetune` (``--unit ID``
writes ``<out>.units/ID``; without it, the stage takes what is staged and runs the rest), so the
test exercises podrun, the transfer and DVC, not fine-tuning (tests/finetune covers the units).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.orchestration import unit_transfer
from components.orchestration.pods import POD_INPUT_ENV
from tests.conftest import ROOT, tool_env

UNITS = ["a/full/seed0", "b/lora/seed1", "c/full/seed2"]
STAGE_SCRIPT = f"""
import argparse, os, shutil, uuid
from pathlib import Path

UNITS = {UNITS!r}
ap = argparse.ArgumentParser()
ap.add_argument("--out")
ap.add_argument("--unit", action="append", default=[])
args = ap.parse_args()
out = Path(args.out)
staging = Path(str(out) + ".units")


def run(dest):
    (dest / "model").mkdir(parents=True)
    (dest / "result.txt").write_text(uuid.uuid4().hex)  # differs on every run
    (dest / "model" / "weights.bin").write_bytes(os.urandom(4096))


if args.unit:
    for u in args.unit:
        run(staging / u)
        (staging / u / "unit.json").write_text("{{}}")  # written last, as units.mark_done
else:
    out.mkdir()
    for u in UNITS:
        if (staging / u / "unit.json").is_file():
            shutil.copytree(staging / u, out / u)
            (out / u / "unit.json").unlink()
            (out / u / "came_from").write_text("staged")
        else:
            run(out / u)
            (out / u / "came_from").write_text("stage")
    shutil.rmtree(staging, ignore_errors=True)
"""
DVC_YAML = (
    "stages:\n  fan:\n    cmd: python stage.py --out models/fan\n"
    "    deps: [stage.py]\n    outs: [models/fan]\n"
)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path) -> tuple[Path, Path]:
    """A committed project (git + DVC) and an empty DVC remote folder."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "stage.py").write_text(STAGE_SCRIPT)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text("profile: demo\n")
    (root / ".gitignore").write_text("*.units/\n")
    _git(root, "init", "-q")
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True, env=tool_env())
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "project")
    remote = tmp_path / "remote"
    remote.mkdir()
    return root, remote


def _clone(project: Path, name: str) -> Path:
    dest = project.parent / name
    subprocess.run(["git", "clone", "-q", str(project), str(dest)], check=True)
    return dest


def _podrun(root: Path, remote: Path, payload: dict, *args: str) -> subprocess.CompletedProcess:
    env = tool_env(
        PYTHONPATH=str(ROOT), DAPT_DVC_REMOTE=str(remote), **{POD_INPUT_ENV: json.dumps(payload)}
    )
    cmd = [sys.executable, "-m", "components.orchestration.podrun", "--root", str(root), *args]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}  # fmt: skip


def test_units_from_unit_pods_reach_the_stage_pod_byte_for_byte(project, tmp_path):
    root, remote = project
    pod_a, pod_b, stage_pod = (_clone(root, n) for n in ("unit-pod-a", "unit-pod-b", "stage-pod"))
    entries: dict = {}
    for pod, units in ((pod_a, UNITS[:2]), (pod_b, UNITS[2:])):
        xcom = tmp_path / f"{pod.name}.json"
        args = ["--stage", "fan", "--xcom", str(xcom), *(a for u in units for a in ("--unit", u))]
        done = _podrun(pod, remote, {}, *args)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        found = json.loads(xcom.read_text())["units"]
        assert sorted(found) == sorted(units)
        assert all(e["md5"].endswith(".dir") and e["nfiles"] == 3 for e in found.values())
        assert not (pod / unit_transfer.TRANSFER).exists()
        entries |= found

    xcom = tmp_path / "stage.json"
    done = _podrun(stage_pod, remote, {"units": entries}, "--stage", "fan", "--xcom", str(xcom))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = stage_pod / "models/fan"
    for pod, units in ((pod_a, UNITS[:2]), (pod_b, UNITS[2:])):
        for u in units:
            # every unit was taken from its pod, bytes unchanged: none ran again in the stage pod
            assert (out / u / "came_from").read_text() == "staged"
            staged = _tree(pod / "models/fan.units" / u)
            staged.pop("unit.json")
            assert {k: v for k, v in _tree(out / u).items() if k != "came_from"} == staged
    assert json.loads(xcom.read_text())["fan"]["outs"][0]["path"] == "models/fan"
    assert not (stage_pod / unit_transfer.TRANSFER).exists()
    assert not (stage_pod / "models/fan.units").exists()


def test_a_unit_not_delivered_runs_in_the_stage_pod(project, tmp_path):
    root, remote = project
    pod, stage_pod = _clone(root, "unit-pod"), _clone(root, "stage-pod")
    xcom = tmp_path / "unit.json"
    assert _podrun(pod, remote, {}, "--stage", "fan", "--unit", UNITS[0], "--xcom", str(xcom)).returncode == 0  # fmt: skip
    units = json.loads(xcom.read_text())["units"]
    done = _podrun(stage_pod, remote, {"units": units}, "--stage", "fan")
    assert done.returncode == 0, done.stderr[-2000:]
    came = {u: (stage_pod / "models/fan" / u / "came_from").read_text() for u in UNITS}
    assert came == {UNITS[0]: "staged", UNITS[1]: "stage", UNITS[2]: "stage"}


@pytest.mark.parametrize(
    "units",
    [
        {"../../escape": {"md5": "0" * 32 + ".dir"}},
        {"/abs/path": {"md5": "0" * 32 + ".dir"}},
        {"a/../../b": {"md5": "0" * 32 + ".dir"}},
        {"a/full/seed0": {"md5": "../../etc/passwd"}},
        {"a/full/seed0": {"md5": "0" * 32 + ".dir", "path": "/etc"}},
        ["a/full/seed0"],
    ],
)
def test_a_bad_unit_entry_runs_nothing_and_writes_nothing(project, units):
    root, remote = project
    stage_pod = _clone(root, "stage-pod")
    done = _podrun(stage_pod, remote, {"units": units}, "--stage", "fan")
    assert done.returncode == 2
    assert "[podrun] error:" in done.stderr
    assert not (stage_pod / "models").exists()
    assert not (stage_pod / unit_transfer.TRANSFER).exists()


def test_a_unit_pod_refuses_unit_ids_that_leave_the_staging_folder(project):
    root, remote = project
    pod = _clone(root, "unit-pod")
    done = _podrun(pod, remote, {}, "--stage", "fan", "--unit", "../outside")
    assert done.returncode == 2 and "unit id '../outside'" in done.stderr
    assert not (pod / "models").exists() and not (pod.parent / "outside").exists()
