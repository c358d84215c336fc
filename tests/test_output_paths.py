"""Output locations in params stay inside the project unless they name a store: checked at
load, with the full key (security: no `../` or absolute path can send outputs elsewhere)."""

from __future__ import annotations

import pytest

from components.config import load_section, source_key
from components.errors import ConfigError
from tests.test_config import params_file

OUTSIDE = ["../elsewhere", "/etc/dapt", "a/../../b", "C:/Users/x"]


@pytest.mark.parametrize("value", OUTSIDE)
@pytest.mark.parametrize(
    ("section", "body"),
    [
        ("tracking", "tracking:\n  mlflow_artifacts: {v}\n"),
        ("tracking", "tracking:\n  dvc_remote: {v}\n"),
        ("orchestration", "orchestration:\n  handoff:\n    drop_folder: {v}\n"),
        ("orchestration", "orchestration:\n  handoff:\n    quarantine_folder: {v}\n"),
        ("orchestration", "orchestration:\n  handoff:\n    report_folder: {v}\n"),
        ("orchestration", "orchestration:\n  kubernetes:\n    dvc_remote: {v}\n"),
    ],
)
def test_paths_outside_the_project_are_refused_naming_the_key(tmp_path, section, body, value):
    path = params_file(tmp_path, body.format(v=f"'{value}'"))
    key = ".".join(line.strip().rstrip(":").split(":")[0] for line in body.splitlines())
    with pytest.raises(ConfigError) as err:
        load_section(section, path)
    assert str(err.value).startswith(f"{key}: {value!r} is outside the project"), str(err.value)
    fixed = params_file(tmp_path, body.format(v="'data/inside'"))  # the fix, followed
    load_section(section, fixed)


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("mlflow_uri", "sqlite:///.mlflow/mlflow.db", True),
        ("mlflow_uri", "https://mlflow.example.com", True),
        ("mlflow_uri", "databricks://profile", True),
        ("mlflow_uri", "sqlite:////var/lib/mlflow.db", False),
        ("mlflow_uri", "sqlite:///../mlflow.db", False),
        ("mlflow_artifacts", "s3://bucket/artifacts", True),
        ("mlflow_artifacts", "file:///srv/artifacts", False),
        ("dvc_remote", "s3://bucket/dvc", True),
        ("dvc_remote", "gs://bucket/dvc", True),
        ("dvc_remote", ".dvc-remote", True),
    ],
)
def test_store_uris_pass_local_files_outside_do_not(tmp_path, key, value, ok):
    path = params_file(tmp_path, f"tracking:\n  {key}: '{value}'\n")
    if ok:
        load_section("tracking", path)
    else:
        with pytest.raises(ConfigError, match=rf"^tracking\.{key}: .*outside the project"):
            load_section("tracking", path)


def test_handoff_folders_are_never_uris(tmp_path):
    path = params_file(tmp_path, "orchestration:\n  handoff:\n    drop_folder: s3://bucket/in\n")
    with pytest.raises(ConfigError, match=r"orchestration\.handoff\.drop_folder: "):
        load_section("orchestration", path)


def test_source_key_names_the_profile_override_when_it_sets_the_value(tmp_path):
    body = """
    profile: smoke
    pretrain:
      dapt: {seq_len: 128}
      profiles:
        smoke: {dapt: {seq_len: 32}}
    """
    path = params_file(tmp_path, body)
    assert source_key("pretrain", "dapt.seq_len", path) == "pretrain.profiles.smoke.dapt.seq_len"
    assert source_key("pretrain", "dapt.lr", path) == "pretrain.dapt.lr"
    assert source_key("pretrain", "tapt.seq_len", path) == "pretrain.tapt.seq_len"
