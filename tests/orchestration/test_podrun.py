"""The pod runner takes no files from its environment: it checks its own checkout against the
workspace's digests and refuses to run anything on a mismatch (security: DAPT_POD_INPUT could
otherwise carry a dvc.yaml whose commands the pod would execute)."""

from __future__ import annotations

import json

import pytest

from components.orchestration import podrun
from components.orchestration.pods import POD_INPUT_ENV

DVC_YAML = "stages:\n  dapt:\n    cmd: echo ok > ran.txt\n    outs: [ran.txt]\n"
PARAMS = "profile: demo\npretrain: {}\n"


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "params.yaml").write_text(PARAMS)
    for var in (POD_INPUT_ENV, "DAPT_DVC_REMOTE", "PET_NODE_RANK"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _run(root, monkeypatch, payload) -> int:
    monkeypatch.setenv(POD_INPUT_ENV, json.dumps(payload))
    monkeypatch.setenv("PET_NODE_RANK", "1")  # runs the stage command only: no DVC needed
    return podrun.main(["--stage", "dapt", "--root", str(root)])


def test_files_in_the_environment_are_refused_and_nothing_runs(checkout, monkeypatch, capsys):
    evil = DVC_YAML.replace("echo ok > ran.txt", "touch pwned")
    rc = _run(checkout, monkeypatch, {"dvc.yaml": evil, "params.yaml": PARAMS})
    assert rc == 2 and "never takes files from its environment" in capsys.readouterr().err
    assert (checkout / "dvc.yaml").read_text() == DVC_YAML
    assert not (checkout / "pwned").exists() and not (checkout / "ran.txt").exists()


def test_a_checkout_that_differs_from_the_workspace_runs_nothing(checkout, monkeypatch, capsys):
    want = podrun.digests(checkout)
    (checkout / "dvc.yaml").write_text(DVC_YAML + "# another commit\n")
    rc = _run(checkout, monkeypatch, {"digests": want, "profile": "demo", "locks": {}})
    err = capsys.readouterr().err
    assert rc == 2 and "dvc.yaml in this image" in err and "git rev-parse HEAD" in err
    assert not (checkout / "ran.txt").exists()
    (checkout / "dvc.yaml").write_text(DVC_YAML)  # the fix: the image from the same commit
    assert _run(checkout, monkeypatch, {"digests": want, "profile": "demo", "locks": {}}) == 0
    assert (checkout / "ran.txt").exists()


def test_the_workspace_profile_is_applied_then_checked(checkout, monkeypatch):
    want = podrun.digests(checkout)  # `make run PROFILE=smoke` leaves params.yaml as committed
    assert _run(checkout, monkeypatch, {"digests": want, "profile": "smoke"}) == 0
    assert (checkout / "params.yaml").read_text() == PARAMS
    assert "profile: smoke" in (checkout / "profile.yaml").read_text()
    assert _run(checkout, monkeypatch, {"digests": want, "profile": "rm -rf /"}) == 2


def test_the_airflow_side_sends_digests_and_the_profile_never_the_files(checkout):
    from components.orchestration.airflow_dags import _prepare

    (checkout / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    payload = json.loads(_prepare(str(checkout), []))
    assert set(payload) == {"digests", "profile", "locks"}
    assert payload["profile"] == "demo" and DVC_YAML not in json.dumps(payload)
    assert podrun.apply_input(checkout, payload) == {}  # the same checkout: accepted
