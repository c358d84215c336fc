"""MLflow model registry side of the gate: read the champion, log and register a version, tag, alias."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.evaluate.gate import Decision, Scores

TAG_MAX = 5000
PINNED = (
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "numpy",
    "pandas",
)
SERVING_PACKAGE = "dapt_serving"


def champion(client, name: str):
    """The version holding alias ``champion``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None


def _artifact(mv, path: str) -> dict | None:
    import mlflow

    try:
        local = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=path)
        return json.loads(Path(local).read_text(encoding="utf-8"))
    except Exception:  # an older version without it: the caller compares with the base instead
        return None


def champion_scores(client, mv, test_md5: str) -> tuple[Scores | None, str]:
    """The champion's per-seed test predictions when it was measured on the same test set."""
    tags = mv.tags or {}
    if tags.get("gate.test_md5") != test_md5:
        return None, (
            f"champion v{mv.version} was measured on another test set "
            f"({tags.get('gate.test_md5', '?')} != {test_md5}); compared with the baseline instead"
        )
    stored = _artifact(mv, "gate/predictions.json")
    if not stored or "seeds" not in stored:
        return None, (
            f"champion v{mv.version} has no per-seed test predictions to pair with; "
            "compared with the baseline instead"
        )
    name = f"champion v{mv.version} ({tags.get('candidate', '?')}/{tags.get('strategy', '?')})"
    return Scores(name, stored["seeds"], stored["predictions"]), f"current champion v{mv.version}"


def champion_heldout(client, mv, heldout_md5: str) -> tuple[dict | None, str]:
    """A corpus-only champion's per-document held-out losses, when measured on the same text."""
    tags = mv.tags or {}
    if tags.get("gate.heldout_md5") != heldout_md5:
        return None, f"champion v{mv.version} was measured on other held-out text: vs base instead"
    stored = _artifact(mv, "gate/heldout.json")
    if not stored:
        return None, f"champion v{mv.version} has no stored held-out losses: vs base instead"
    return stored, f"current champion v{mv.version}"


def requirements() -> list[str]:
    """The serving environment, pinned to the versions this model was trained and logged with
    (MLflow adds its own ``mlflow==``). Local build labels (``+cpu``) are dropped: the same
    release of torch installs as the CPU or the CUDA build of the server."""
    from importlib.metadata import version

    return [f"{name}=={version(name).split('+')[0]}" for name in PINNED]


def _stage_serving_code(tmp: Path) -> Path:
    """components/serving copied as the package ``dapt_serving`` (what a loader imports)."""
    import components.serving

    src = Path(components.serving.__file__).parent
    pkg = tmp / SERVING_PACKAGE
    pkg.mkdir()
    for f in sorted(src.glob("*.py")):
        if f.name != "model_code.py":
            shutil.copy2(f, pkg / f.name)
    return pkg


def log_classifier(model_dir: Path, examples: list[str] | None = None):
    """The fine-tuned folder as a models-from-code pyfunc: safetensors + tokenizer + label map
    (``finetune.json``) as an artifact, the inference code (components/serving) as
    ``code_paths``, pinned requirements, a signature and an input example. Loading it imports
    that code and reads safetensors; nothing is unpickled (docs/evaluate.md)."""
    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    import components.serving

    code = Path(components.serving.__file__).parent / "model_code.py"
    meta = json.loads((Path(model_dir) / "finetune.json").read_text(encoding="utf-8"))
    signature = ModelSignature(
        inputs=Schema([ColSpec(DataType.string, "text")]),
        outputs=Schema([ColSpec(DataType.string)]),
    )
    example = pd.DataFrame({"text": list(examples or ["example text"])[:2]})
    with tempfile.TemporaryDirectory() as tmp:
        pkg = _stage_serving_code(Path(tmp))
        # MLflow runs the model code once while logging: let it import the staged copy.
        sys.path.insert(0, tmp)
        try:
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code),
                code_paths=[str(pkg)],
                artifacts={"model_dir": str(model_dir)},
                pip_requirements=requirements(),
                signature=signature,
                input_example=example,
                metadata={"labels": meta["labels"], "strategy": meta.get("strategy", "")},
            )
        finally:
            sys.path.remove(tmp)
            for name in [m for m in sys.modules if m.split(".")[0] == SERVING_PACKAGE]:
                del sys.modules[name]  # a later load imports the model's own copy


def log_encoder(model_dir: Path):
    """An adapted masked LM through MLflow's transformers flavour (a fill-mask pipeline)."""
    import mlflow
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(model_dir, use_safetensors=True)
    tok = AutoTokenizer.from_pretrained(model_dir)
    return mlflow.transformers.log_model(
        transformers_model={"model": model, "tokenizer": tok},
        name="model",
        task="fill-mask",
        pip_requirements=requirements(),
    )


@dataclasses.dataclass(frozen=True)
class Measured:
    """What a version was measured on: the split (project-relative path, as the lineage events
    name it, and its DVC md5) and the numbers the gate measured there."""

    metrics: dict[str, float]
    dataset: str
    digest: str


def link_logged_model(model_id: str, measured: Measured, tags: dict[str, Any]) -> None:
    """MLflow 3: the LoggedModel (``log_model`` made it, with the active run, the one that
    measured it, as its source run) gets the gate's metrics tied to the split as an MLflow
    dataset (name + DVC md5), and the version's lineage tags, so the Models page answers what it
    scored and on which data without the registry."""
    import mlflow
    from mlflow.data.meta_dataset import MetaDataset

    from components.tracking import dataset_source

    ds = MetaDataset(
        dataset_source(measured.dataset), name=measured.dataset, digest=measured.digest
    )
    mlflow.log_input(ds, context="evaluation", tags={"dvc_md5": measured.digest})
    mlflow.log_metrics(measured.metrics, model_id=model_id, dataset=ds)
    mlflow.set_logged_model_tags(model_id, {k: str(v)[:TAG_MAX] for k, v in tags.items()})


@dataclasses.dataclass(frozen=True)
class Producers:
    """The MLflow runs a registered model came from (besides its source run, which measured
    it): the ``finetune`` stage runs that trained it (``unit``: the name of the nested run of the
    kept seed, ``<candidate>/<strategy>/seed<n>``) and the ``compare`` runs that chose it."""

    trained_by: list[str]
    chosen_by: list[str]
    unit: str | None = None


def link_runs(model_id: str, producers: Producers) -> list[str]:
    """MLflow 3 run-to-model links: the model is an output of the run that trained it (the
    kept seed's nested run, else the stage run) and an input of the runs that chose it, so each
    of those runs lists it and it lists them. Returns the training runs linked. A run this
    tracking store does not hold (events from another store) is skipped with a note."""
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelInput, LoggedModelOutput
    from mlflow.exceptions import MlflowException

    client = MlflowClient()

    def linked(run_id: str, log: Callable[[], Any]) -> bool:
        try:
            log()
            return True
        except MlflowException as exc:  # lineage links never block a registration
            print(f"[register] model not linked to run {run_id}: {exc}", file=sys.stderr)
            return False

    def training(parent: str) -> list[str]:
        if not producers.unit or "'" in producers.unit:
            return [parent]
        kids = client.search_runs(
            [client.get_run(parent).info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent}' and "
            f"attributes.run_name = '{producers.unit}'",
        )
        return [k.info.run_id for k in kids] or [parent]

    found: list[str] = []
    for parent in producers.trained_by:
        linked(parent, lambda p=parent: found.extend(training(p)))
    out = [LoggedModelOutput(model_id, step=0)]
    trained = [r for r in found if linked(r, lambda r=r: client.log_outputs(r, out))]
    for r in producers.chosen_by:
        linked(r, lambda r=r: client.log_inputs(r, models=[LoggedModelInput(model_id)]))
    return trained


def register(
    log_model: Callable[[], Any],
    name: str,
    tags: dict[str, Any],
    decision: Decision,
    artifacts: dict[str, dict],
    measured: Measured | None = None,
    producers: Producers | None = None,
) -> str:
    """Log the model in the active run, register it, tag it, set its alias; with ``measured``,
    its LoggedModel carries the metrics and the data they were measured on; with ``producers``,
    it is linked to the runs that trained and chose it."""
    import mlflow
    from mlflow import MlflowClient

    for path, obj in artifacts.items():
        mlflow.log_dict(obj, path)
    info = log_model()
    model_id = getattr(info, "model_id", None)
    if producers is not None and model_id and (trained := link_runs(model_id, producers)):
        tags = {**tags, "lineage.mlflow_runs.trained": ",".join(trained)}
    if measured is not None and getattr(info, "model_id", None):
        link_logged_model(info.model_id, measured, tags)
    mv = mlflow.register_model(info.model_uri, name)
    version = str(mv.version)
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value)[:TAG_MAX])
    client.set_model_version_tag(name, version, "gate.decision", decision.alias)
    client.set_model_version_tag(name, version, "gate.reason", decision.reason[:TAG_MAX])
    client.update_model_version(name, version, description=decision.reason[:TAG_MAX])
    client.set_registered_model_alias(name, decision.alias, version)
    return version


def history(name: str, client=None) -> list[dict[str, str]]:
    """Every registered version with its decision, reason, intervals and aliases, oldest first
    (``[]`` when nothing is registered under ``name``)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = client or MlflowClient()
    versions = client.search_model_versions(f"name='{name}'")
    # Search results carry no aliases in every store: the registered model has them all.
    try:
        by_version: dict[str, list[str]] = {}
        for alias, version in (client.get_registered_model(name).aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
    except MlflowException:
        by_version = {}
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version)):
        t = mv.tags or {}
        rows.append(
            {
                "version": mv.version,
                "decision": t.get("gate.decision", ""),
                "reason": t.get("gate.reason", ""),
                "intervals": t.get("gate.intervals", ""),
                "candidate": t.get("candidate", ""),
                "strategy": t.get("strategy", ""),
                "aliases": ",".join(sorted(by_version.get(str(mv.version), []))),
            }
        )
    return rows
