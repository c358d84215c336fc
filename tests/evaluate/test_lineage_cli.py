"""``dapt lineage`` as a user meets it: before any champion exists, from another folder."""

from __future__ import annotations

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from components.cli import main
from tests.conftest import domain_section

NAME = "demo-classifier"


@pytest.fixture
def registry_project(tmp_path, monkeypatch):
    """A project whose local store holds v1 (no alias) and v2 (challenger): no champion yet."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "params.yaml").write_text(yaml.safe_dump({"domain": domain_section()}), "utf-8")
    mlflow.set_tracking_uri(f"sqlite:////{str(proj).lstrip('/')}/.mlflow/mlflow.db")
    (proj / ".mlflow").mkdir()
    client = MlflowClient()
    client.create_registered_model(NAME)
    for decision in ("challenger", "challenger"):
        mv = client.create_model_version(NAME, source=(tmp_path / "m").as_uri())
        client.set_model_version_tag(NAME, mv.version, "gate.decision", decision)
        client.set_model_version_tag(NAME, mv.version, "gate.reason", f"{decision}: test")
    client.set_registered_model_alias(NAME, "challenger", "2")
    mlflow.set_tracking_uri(None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not inside the project: --project names it
    return proj


def test_missing_alias_exits_1_with_the_versions_and_aliases_that_exist(registry_project, capsys):
    code = main(["lineage", f"models:/{NAME}@champion", "--project", str(registry_project)])
    out = capsys.readouterr()
    assert code == 1
    assert f"{NAME} has no alias 'champion'" in out.err
    assert "v1 [-], v2 [challenger]" in out.err and "no version has passed the gate" in out.err
    assert "Traceback" not in out.err + out.out

    assert main(["lineage", "models:/other@champion", "--project", str(registry_project)]) == 1
    err = capsys.readouterr().err
    assert "no registered model named 'other'" in err and f"registered models: {NAME}" in err


def test_history_shows_aliases_from_any_folder(registry_project, capsys):
    assert main(["lineage", "--history", NAME, "--project", str(registry_project)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("v1 [-] challenger") and lines[1].startswith("v2 [challenger]")


def test_outside_a_project_without_project_says_how(registry_project, capsys):
    assert main(["lineage", "--history", NAME]) == 2
    assert "--project DIR" in capsys.readouterr().err
