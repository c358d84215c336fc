"""One tiny project per session (tests/faults/project.py), run once uninterrupted: the reference
every fault test compares against ("the last good outputs")."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from components.orchestration.graph import load
from tests.faults import project as tiny


@dataclass
class Project:
    root: Path
    seconds: dict[str, float]  # per stage, from the reference run
    order: list[str] = field(default_factory=list)

    def run(self, *cmd: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        return tiny.run(self.root, *cmd, timeout=timeout, **env)

    def dvc(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        return self.run("dvc", *args, timeout=timeout, **env)

    def cmd(self, stage: str) -> str:
        return load(self.root / "dvc.yaml").stages[stage].cmd

    def outs(self, stage: str) -> list[str]:
        return list(load(self.root / "dvc.yaml").stages[stage].outs)

    def downstream(self, stage: str) -> list[str]:
        """``stage`` and every stage after it in the graph."""
        graph = load(self.root / "dvc.yaml").active()
        found, frontier = {stage}, [stage]
        while frontier:
            for s in graph.downstream(frontier.pop()):
                if s not in found:
                    found.add(s)
                    frontier.append(s)
        return [s for s in self.order if s in found]

    def snapshot(self, stages: list[str]) -> dict[str, str]:
        """SHA-256 of every file of these stages' outputs (what must survive a failure)."""
        files: dict[str, str] = {}
        for stage in stages:
            for out in self.outs(stage):
                path = self.root / out
                entries = sorted(path.rglob("*")) if path.is_dir() else [path]
                for f in entries:
                    if f.is_file():
                        rel = str(f.relative_to(self.root))
                        files[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
        return files

    def params(self) -> dict:
        return yaml.safe_load((self.root / "params.yaml").read_text(encoding="utf-8"))

    def write_params(self, data: dict) -> None:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        (self.root / "params.yaml").write_text(text, encoding="utf-8")

    def restore(self, *paths: str) -> None:
        """Back to the committed inputs (git), e.g. after a test broke them."""
        tiny.git(self.root, "checkout", "--", *paths)

    def leftovers(self) -> list[str]:
        """Temporaries, journals and swapped-out folders left anywhere in the workspace."""
        skip = {".git", ".dvc"}
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in skip]
            for name in [*dirnames, *filenames]:
                if name.startswith(".") and name.endswith((".tmp", ".commit", ".old")):
                    found.append(str(Path(dirpath, name).relative_to(self.root)))
        return found


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tiny.build(tmp_path_factory.mktemp("faults") / "project")
    seconds = tiny.repro_all(root)
    order = load(root / "dvc.yaml").active().order
    assert set(seconds) == set(order), seconds
    return Project(root, seconds, order)


@pytest.fixture(autouse=True)
def _inputs_restored(request):
    """Whatever a test broke in the inputs is put back, even when it failed half-way, so one
    failure does not cascade into the next test."""
    yield
    if "project" in request.fixturenames:
        proj: Project = request.getfixturevalue("project")
        tiny.git(proj.root, "checkout", "--", "params.yaml", "data/samples", "models")
        os.chmod(proj.root / "metrics", 0o755)


def assert_clean_failure(proc: subprocess.CompletedProcess, *expected: str) -> str:
    """Failed with a message (no traceback) holding every ``expected`` string."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "Traceback" not in out, out[-5000:]
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out[-4000:]}"
    return out


def ran_stages(proc: subprocess.CompletedProcess) -> list[str]:
    """The stages ``dvc repro`` started (DVC announces each)."""
    return [
        line.split("'")[1]
        for line in proc.stdout.splitlines()
        if line.startswith("Running stage '")
    ]
