"""MLflow run per stage: resolved params, metrics, input digests, git commit and stage tags.

Defaults are a local SQLite store and artifact folder inside the project; ``MLFLOW_TRACKING_URI``
overrides them, and says so on stderr (never silently). Against a tracking server, artifacts go
to the server's store (``mlflow-artifacts:`` when it proxies them), never to the worker's disk.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from components.config import TrackingParams, as_flat_dict, load_section

_MLFLOW_PARAM_MAX = 6000
# MLflow runs this process opened for its stage: the stage's OpenLineage events name them.
RUN_IDS: list[str] = []


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder upward holding params.yaml (the project root), else the cwd."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").exists():
            return folder
    return here


def git_commit(root: Path) -> tuple[str, bool]:
    """(commit, dirty) of the project checkout; ("unknown", True) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True


def resolve_tracking_uri(params: TrackingParams, root: Path) -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        if env != params.mlflow_uri:
            print(
                f"[tracking] MLFLOW_TRACKING_URI={env} overrides params.yaml "
                f"tracking.mlflow_uri={params.mlflow_uri}",
                file=sys.stderr,
            )
        return env
    uri = params.mlflow_uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        db = (root / uri[len(prefix) :]).resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:////{str(db).lstrip('/')}"  # four slashes: absolute path
    return uri


# Tracking URIs that name a server: it owns the artifact store (``mlflow server
# --serve-artifacts`` proxies it as ``mlflow-artifacts:``, or hands out its --default-artifact-root).
SERVER_SCHEMES = ("http", "https", "databricks")


def is_server(uri: str) -> bool:
    return urlparse(uri).scheme in SERVER_SCHEMES


def artifact_location(params: TrackingParams, root: Path, uri: str) -> str | None:
    """Where a new experiment stores artifacts. ``None``: the tracking server's own store, so
    models and plots reach every client of the server. A store URI in
    ``tracking.mlflow_artifacts`` (``s3://...``) is used as given; a folder only with a local
    store (a worker's disk is invisible to other clients of a server)."""
    if "://" in params.mlflow_artifacts:
        return params.mlflow_artifacts
    if is_server(uri):
        return None
    folder = Path(params.mlflow_artifacts)
    if not folder.is_absolute():
        folder = root / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve().as_uri()


def _experiment(name: str, location: str | None, uri: str) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        try:
            exp_id = mlflow.create_experiment(name, location)
        except MlflowException:  # created meanwhile by a concurrent stage
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
        else:
            exp = mlflow.get_experiment(exp_id)
            where = exp.artifact_location
            print(f"[tracking] experiment {name}: artifacts in {where}", file=sys.stderr)
    if is_server(uri) and exp.artifact_location.startswith("file:"):
        print(
            f"[tracking] warning: experiment {name} on {uri} stores artifacts at "
            f"{exp.artifact_location}, a disk other clients of the server cannot read; create it "
            f"anew (or rename it) so the server's artifact store is used",
            file=sys.stderr,
        )
    return exp.experiment_id


def configure(root: Path | None = None) -> tuple[str, str]:
    """Point MLflow at the project's store; returns (tracking URI, experiment id)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    root = root or project_root()
    params = load_section("tracking", root / "params.yaml")
    name = load_section("domain", root / "params.yaml").experiment_name
    uri = resolve_tracking_uri(params, root)
    mlflow.set_tracking_uri(uri)
    exp_id = _experiment(name, artifact_location(params, root, uri), uri)
    mlflow.set_experiment(experiment_id=exp_id)
    return uri, exp_id


def dvc_digest(path: Path) -> str:
    """The hash dvc.lock records for ``path``: the md5 of a file, ``<md5>.dir`` for a folder
    (computed by DVC's own hashing library, without the workspace's .dvcignore)."""
    if not path.is_dir():
        from components.data.text import file_digest

        return file_digest(str(path))
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs import localfs
    from dvc_objects.fs.memory import MemoryFileSystem

    # dry_run: hash only, nothing is copied into the (throwaway, in-memory) object store.
    _, _, obj = build(
        HashFileDB(MemoryFileSystem(), "/"), str(path.resolve()), localfs, "md5", dry_run=True
    )
    return str(obj.hash_info.value)


def dataset_source(path: str | os.PathLike):
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    return resolve_dataset_source(str(Path(path).resolve()))


def dataset_name(path: Path, root: Path) -> str:
    """Project-relative POSIX path, the name dvc.yaml and the OpenLineage events use."""
    full = path.resolve()
    return (
        full.relative_to(root.resolve()).as_posix()
        if full.is_relative_to(root.resolve())
        else str(path)
    )


def _log_inputs(paths: list[str], root: Path) -> None:
    """One MLflow dataset per input path (a file, or a whole folder as DVC hashes it), its
    digest the DVC hash: the run's inputs match dvc.lock and the lineage events by name and hash."""
    import mlflow
    from mlflow.data.meta_dataset import MetaDataset

    for p in dict.fromkeys(paths):
        path = Path(p)
        if not path.exists():
            continue
        name, digest = dataset_name(path, root), dvc_digest(path)
        ds = MetaDataset(source=dataset_source(path), name=name, digest=digest)
        mlflow.log_input(ds, context="input", tags={"dvc_md5": digest})


@contextlib.contextmanager
def stage_run(
    stage: str,
    params: Any,
    *,
    inputs: list[str] | None = None,
    profile: str | None = None,
    root: Path | None = None,
) -> Iterator[Any]:
    """Open an MLflow run for one stage execution and log what it ran with.

    A pipeline-level parent run can be named through ``DAPT_PARENT_RUN_ID``.
    """
    import mlflow

    root = root or project_root()
    configure(root)
    commit, dirty = git_commit(root)
    tags = {"stage": stage, "git_commit": commit, "git_dirty": str(dirty).lower()}
    if profile:
        tags["profile"] = profile
    parent = os.environ.get("DAPT_PARENT_RUN_ID")
    if parent:
        tags["mlflow.parentRunId"] = parent
    with mlflow.start_run(run_name=stage, tags=tags) as run:
        RUN_IDS.append(run.info.run_id)
        flat = {k: str(v)[:_MLFLOW_PARAM_MAX] for k, v in as_flat_dict(params).items()}
        items = list(flat.items())
        for i in range(0, len(items), 100):
            mlflow.log_params(dict(items[i : i + 100]))
        if inputs:
            _log_inputs(inputs, root)
        yield run


def flat_numbers(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested metrics dict as ``a.b.c`` keys (what MLflow can log)."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out.update(flat_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


class Tracker:
    """What a stage logs; the disabled tracker (``--no-mlflow``) accepts the same calls."""

    def __init__(self, run: Any = None) -> None:
        self.run = run

    @property
    def enabled(self) -> bool:
        return self.run is not None

    def metrics(self, metrics: dict, step: int | None = None) -> None:
        if self.run is not None:
            import mlflow

            mlflow.log_metrics(flat_numbers(metrics), step=step)

    def artifact(self, path: str | os.PathLike, folder: str | None = None) -> None:
        if self.run is not None and Path(path).exists():
            import mlflow

            if Path(path).is_dir():
                mlflow.log_artifacts(str(path), folder)
            else:
                mlflow.log_artifact(str(path), folder)

    def tags(self, tags: dict[str, Any]) -> None:
        if self.run is not None:
            import mlflow

            mlflow.set_tags({k: str(v) for k, v in tags.items()})


@contextlib.contextmanager
def tracked(
    stage: str,
    params: Any,
    *,
    inputs: list[str] | None = None,
    profile: str | None = None,
    enabled: bool = True,
) -> Iterator[Tracker]:
    """``stage_run`` when tracking is on, else a do-nothing tracker: one code path per stage."""
    if not enabled:
        yield Tracker()
        return
    with stage_run(stage, params, inputs=inputs, profile=profile) as run:
        yield Tracker(run)
