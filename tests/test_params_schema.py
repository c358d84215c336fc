"""The JSON schema of params.yaml (``dapt params --schema``): current, accepts the shipped params
files, and refuses what the loader refuses."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest
import yaml

from components.cli import main
from components.config import load_all
from components.errors import ConfigError
from components.params_schema import params_schema
from tests.conftest import ROOT

SHIPPED = [ROOT / "params.yaml", *sorted((ROOT / "examples").glob("*/params.yaml"))]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = params_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_schema_is_current(capsys):
    assert main(["params", "--schema", "-"]) == 0
    written = capsys.readouterr().out
    committed = (ROOT / "params.schema.json").read_text(encoding="utf-8")
    assert json.loads(written) == params_schema()
    assert committed == written, "run `dapt params --schema params.schema.json` and commit it"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_params_files_are_valid(validator, path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(data)] == []


def _set(data: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


@pytest.mark.parametrize(
    ("key", "value", "loader_says"),
    [
        ("validate.corpus.max_dup_rate", 1.5, "is out of range (must be <= 1)"),
        ("finetune.batch_size", "thirty-two", "expected an integer"),
        ("mine.profiles.smoke.top_nn", 3, "unknown key"),
        ("newwords.lang", "en", "set by domain.lang"),
        ("tokenizer.profiles.huge", {}, "unknown profile"),
        ("domain.lang", "fr", "is not one of"),
        ("colour", "blue", "unknown section"),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(validator, tmp_path, key, value, loader_says):
    data = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")))
    _set(data, key, value)
    assert list(validator.iter_errors(data)), f"the schema accepts {key}: {value!r}"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(loader_says)):
        load_all(path, profile="smoke" if "smoke" in key else None)
