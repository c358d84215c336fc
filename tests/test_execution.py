"""``execution.engine`` and its ``DAPT_ENGINE`` override (no Ray needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from components.config import load_section
from components.errors import ConfigError
from components.execution import ExecutionParams, resolve_engine
from tests.conftest import ROOT


def test_local_is_the_default_and_the_committed_value(monkeypatch):
    monkeypatch.delenv("DAPT_ENGINE", raising=False)
    assert ExecutionParams().engine == "local"
    assert resolve_engine(load_section("execution", ROOT / "params.yaml")) == "local"


def test_environment_override_is_announced_on_stderr(monkeypatch, capsys):
    monkeypatch.setenv("DAPT_ENGINE", "ray")
    assert resolve_engine(ExecutionParams()) == "ray"
    assert "DAPT_ENGINE=ray overrides params.yaml execution.engine=local" in capsys.readouterr().err
    monkeypatch.setenv("DAPT_ENGINE", "spark")
    with pytest.raises(ConfigError, match="DAPT_ENGINE='spark'"):
        resolve_engine(ExecutionParams())


def test_the_local_engine_never_imports_ray():
    """``make run`` (engine local) must not pay Ray's import (~4 s) or start it."""
    code = (
        "import sys; from components.decontaminate import driver, cli; "
        "from components.mine import core, cli as mcli; from components.newwords import cli as n; "
        "from components.execution import load_execution; load_execution('params.yaml'); "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
