"""MLflow model registry side of the gate: read the champion, register a version, tag, alias."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.evaluate.gate import Decision, Scores

TAG_MAX = 5000
PIP = ["torch", "transformers", "peft", "tokenizers", "safetensors", "numpy", "pandas"]


def champion(client, name: str):
    """The version holding alias ``champion``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None


def champion_scores(client, mv, test_md5: str) -> tuple[Scores | None, str]:
    """The champion's per-seed scores when it was measured on the same test set."""
    tags = mv.tags or {}
    if tags.get("gate.test_md5") != test_md5:
        return None, (
            f"champion v{mv.version} was measured on another test set "
            f"({tags.get('gate.test_md5', '?')} != {test_md5}); compared with the baseline instead"
        )
    preds = None
    try:
        import mlflow

        path = mlflow.artifacts.download_artifacts(
            run_id=mv.run_id, artifact_path="gate/predictions.json"
        )
        preds = json.loads(Path(path).read_text(encoding="utf-8"))["predictions"]
    except Exception:  # older versions have no predictions: Welch still works
        preds = None
    name = f"champion v{mv.version} ({tags.get('candidate', '?')}/{tags.get('strategy', '?')})"
    return Scores(name, json.loads(tags["gate.seed_macro_f1"]), preds), ""


def register(
    model_dir: Path, name: str, tags: dict[str, Any], decision: Decision, predictions: dict
) -> str:
    """Log ``model_dir`` as a pyfunc in the active run, register it, tag it, set its alias."""
    import mlflow
    from mlflow import MlflowClient

    from components.evaluate.serving import Classifier

    mlflow.log_dict(predictions, "gate/predictions.json")
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=Classifier(),
        artifacts={"model_dir": str(model_dir)},
        pip_requirements=PIP,
        registered_model_name=name,
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value)[:TAG_MAX])
    client.set_model_version_tag(name, version, "gate.decision", decision.alias)
    client.set_model_version_tag(name, version, "gate.reason", decision.reason[:TAG_MAX])
    client.update_model_version(name, version, description=decision.reason[:TAG_MAX])
    client.set_registered_model_alias(name, decision.alias, version)
    return version


def history(name: str) -> list[dict[str, str]]:
    """Every registered version with its decision and reason, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient()
    versions = client.search_model_versions(f"name='{name}'")
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version)):
        t = mv.tags or {}
        rows.append(
            {
                "version": mv.version,
                "decision": t.get("gate.decision", ""),
                "reason": t.get("gate.reason", ""),
                "candidate": t.get("candidate", ""),
                "strategy": t.get("strategy", ""),
                "aliases": ",".join(getattr(mv, "aliases", []) or []),
            }
        )
    return rows
