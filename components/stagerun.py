"""What every stage does around its work, in one place: the active profile, the validation gate
on its inputs (the one switch ``--no-validated-check``) and its MLflow run (off with
``--no-mlflow``). A stage module reads its parameters, calls these, and writes its outputs
together through ``components.data.outputs.OutputSet``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.config import active_profile, read_params_file
from components.data.gate import require_inputs
from components.tracking import tracked


def registry_arguments(p: argparse.ArgumentParser, stage: str, no_mlflow: str) -> None:
    """The arguments of a stage that registers a model: its dvc.yaml name (lineage), the params
    file, and the switch that decides without registering."""
    p.add_argument("--stage", default=stage, help="dvc.yaml stage whose lineage is recorded")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--no-mlflow", action="store_true", help=no_mlflow)


def profile_of(params_file: str | os.PathLike) -> str | None:
    """The active profile; None without a params file (ad-hoc use outside a project)."""
    return active_profile(read_params_file(params_file)) if Path(params_file).exists() else None


def check_inputs(
    args: argparse.Namespace,
    paths: list[str],
    gate: Callable[[list[str]], None] = require_inputs,
) -> None:
    """Refuse inputs the validate (or decontaminate) stage did not pass, unless the command was
    given ``--no-validated-check``."""
    if not args.no_validated_check:
        gate(paths)


def stage_tracking(
    name: str, params: Any, args: argparse.Namespace, inputs: list[str], *, enabled: bool = True
):
    """The stage's MLflow run (``components.tracking.tracked``: a do-nothing tracker when off),
    named after the stage, tagged with the active profile, off with ``--no-mlflow``."""
    on = enabled and not args.no_mlflow
    return tracked(
        name, params, inputs=inputs, profile=profile_of(args.params) if on else None, enabled=on
    )
