"""``dapt params``: every profile validated; switching the profile leaves git clean and DVC sees it."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.cli import main
from components.tracking import git_commit
from tests.conftest import ROOT, copy_project, tool_env


def test_a_bad_value_in_an_inactive_profile_is_reported(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    body = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    body["finetune"]["profiles"]["demo"] = {"batch_size": "thirty-two"}
    params.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    (tmp_path / "profile.yaml").write_text("profile: smoke\n", encoding="utf-8")
    assert main(["params", "--file", str(params)]) == 2
    err = capsys.readouterr().err
    assert "[profile demo] finetune.batch_size: expected an integer" in err
    assert "[profile smoke]" not in err


@pytest.mark.slow
def test_switching_profile_keeps_git_clean_and_reruns_what_dvc_tracks(tmp_path):
    root = copy_project(tmp_path / "project", profile="smoke")
    env = tool_env()

    def sh(*cmd: str) -> str:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return proc.stdout

    sh("dvc", "repro", "--single-item", "ingest")
    assert "ingest" not in sh("dvc", "status", "ingest")
    sh("git", "add", "-A")  # dvc.lock, new on a clone without one
    sh("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "ran")
    sh("dapt", "params", "--set-profile", "demo")
    status = sh("dvc", "status", "ingest")
    assert "profile.yaml" in status and "modified" in status  # DVC tracks the profile...
    assert sh("git", "status", "--porcelain") == ""  # ...git does not see a change
    assert git_commit(root)[1] is False  # so a run's git_dirty tag stays honest
    # A fresh clone has no profile.yaml: DVC refuses; make (dapt params --init-profile) writes it.
    (root / "profile.yaml").unlink()
    fresh = subprocess.run(["dvc", "status"], cwd=root, env=env, capture_output=True, text=True)
    assert "profile.yaml" in fresh.stdout + fresh.stderr
    sh("dapt", "params", "--init-profile")
    assert (root / "profile.yaml").read_text(encoding="utf-8").rstrip().endswith("profile: demo")
