"""Dockerfiles checked statically (no Docker engine here): hadolint plus our own rules."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, VENV_BIN

HADOLINT = VENV_BIN / "hadolint"
DOCKERFILES = sorted((ROOT / "docker").glob("*Dockerfile"))


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", "--no-color", str(path)],
        capture_output=True,
        text=True,
    )


def test_there_are_stage_and_airflow_images():
    names = {p.name for p in DOCKERFILES}
    assert {"stage.Dockerfile", "airflow.Dockerfile"} <= names
    stage = (ROOT / "docker/stage.Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM .* AS cpu$", stage, re.M) and re.search(
        r"^FROM .* AS cuda$", stage, re.M
    )


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_is_clean_pinned_and_non_root(path: Path):
    result = hadolint(path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text(encoding="utf-8")
    for image in re.findall(r"^FROM\s+(\S+)", text, re.M):
        if image in {"base"}:
            continue
        assert ":" in image and not image.endswith(":latest"), f"unpinned base image {image}"
    # Each final stage ends as a non-root user.
    for stage in re.split(r"^FROM ", text, flags=re.M)[1:]:
        users = re.findall(r"^USER\s+(\S+)", stage, re.M)
        if "ENTRYPOINT" in stage or stage is text.split("FROM ")[-1]:
            assert users and users[-1].split(":")[0] not in {"root", "0"}, stage[:80]
    assert not re.search(r"(?i)(password|secret|token|aws_access_key)\s*=", text)


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python\nRUN pip install torch\n", encoding="utf-8")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3013" in result.stdout or "DL3006" in result.stdout
