"""Send the OpenLineage events of a stage run (START, then COMPLETE or FAIL) and of registration.

Called by ``dapt <command>`` when DVC runs it as a stage (DVC sets ``DVC_STAGE``): that covers
``dvc repro``, Airflow tasks and pods alike, since all of them run stages through DVC. The
COMPLETE event carries the hashes DVC is about to record in dvc.lock, computed by DVC's own code
for the stage's deps and outs (its state cache makes DVC's own pass afterwards a lookup).

Transport: the standard OpenLineage configuration (``openlineage.yml`` in the project or named by
``OPENLINEAGE_CONFIG``, ``OPENLINEAGE_URL``, ``OPENLINEAGE__TRANSPORT__*``), else Airflow's
``AIRFLOW__OPENLINEAGE__TRANSPORT`` when it is not a file transport; none given, events
go to files under ``reports/lineage/`` (one JSON file per event). ``OPENLINEAGE_DISABLED=true``
turns it off. Lineage never fails a stage: an emission error is reported and ignored.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
from pathlib import Path
from typing import Any

import yaml

from components.orchestration.lineage_names import PARENT_ENV

EVENTS_DIR = "reports/lineage"
_CURRENT: dict[str, str] = {}  # the stage run of this process: parent of registration events


def configured_elsewhere() -> bool:
    """Whether the user configured OpenLineage the standard way (then we do not pick a transport)."""
    env = os.environ
    if env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in env):
        return True
    return (
        Path("openlineage.yml").is_file()
        or (Path.home() / ".openlineage" / "openlineage.yml").is_file()
    )


def airflow_transport() -> dict[str, Any] | None:
    """Airflow's ``[openlineage] transport`` (as ``AIRFLOW__OPENLINEAGE__TRANSPORT``, what a
    stage task inherits) unless it writes files: stage events then go where the provider's task
    events go. A file transport is left to the provider: our files stay in reports/lineage/,
    which ``dapt lineage`` and the report read as stage events only."""
    raw = os.environ.get("AIRFLOW__OPENLINEAGE__TRANSPORT", "")
    try:
        transport = json.loads(raw) if raw else None
    except ValueError:
        return None
    if isinstance(transport, dict) and transport.get("type") not in (None, "", "file"):
        return transport
    return None


def client(root: Path):
    from openlineage.client import OpenLineageClient

    if configured_elsewhere() or os.environ.get("OPENLINEAGE_DISABLED", "").lower() == "true":
        return OpenLineageClient()
    if (transport := airflow_transport()) is not None:
        return OpenLineageClient(config={"transport": transport})
    from openlineage.client.transport.file import FileConfig, FileTransport

    folder = root / EVENTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(folder / "event")))
    )


def send(root: Path, *events) -> None:
    try:
        c = client(root)
        for e in events:
            c.emit(e)
        c.close(5)
    except Exception as exc:  # lineage is an observer: never the reason a stage fails
        print(f"[lineage] events not sent: {type(exc).__name__}: {exc}", file=sys.stderr)


def _norm(p: str) -> str:
    return posixpath.normpath(str(p).replace(os.sep, "/"))


def dvc_hashes(root: Path, wanted: dict[str, set[str] | None]) -> dict[str, str]:
    """``path -> hash`` as DVC records it in dvc.lock, for deps and outs of the given stages
    (``None``: all of them), computed now by DVC's own code."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    found: dict[str, str] = {}
    with Repo(str(root)) as repo:
        # One parse of dvc.yaml/dvc.lock for all stages (collecting per stage re-parses both).
        for st in repo.stage.collect(str(root / "dvc.yaml")):
            name = str(getattr(st, "name", "")).split("@")[0]
            if name not in wanted:
                continue
            paths = wanted[name]
            for d in [*st.deps, *st.outs]:
                p = _norm(d.def_path)
                if isinstance(d, ParamsDependency) or (paths is not None and p not in paths):
                    continue
                if (root / p).exists():
                    found[p] = str(d.get_hash().value)
    return found


def _spec(root: Path, stage: str) -> dict[str, Any]:
    data = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}
    return (data.get("stages") or {}).get(stage) or {}


def resolved_params(root: Path, keys: list[Any]) -> dict[str, Any]:
    """The values of the stage's dvc.yaml ``params`` with the active profile applied."""
    from components.config import active_profile, read_params_file, resolve_section

    data = read_params_file(root / "params.yaml")
    profile = active_profile(data)
    out: dict[str, Any] = {"profile": profile}
    for key in keys:
        if not isinstance(key, str):  # {profile.yaml: [profile]}: already there
            continue
        section, _, rest = key.partition(".")
        node: Any = resolve_section(data, section, profile)
        for part in filter(None, rest.split(".")):
            node = node.get(part) if isinstance(node, dict) else None
        out[key] = node
    return json.loads(json.dumps(out, default=str))


def stage_metrics(root: Path, spec: dict[str, Any], variables: dict[str, Any]) -> dict[str, float]:
    from components.orchestration.graph import resolve
    from components.tracking import flat_numbers

    metrics: dict[str, float] = {}
    for entry in spec.get("metrics") or []:
        for path in entry if isinstance(entry, dict) else [entry]:
            f = root / resolve(path, variables)
            if f.is_file() and f.suffix == ".json":
                try:
                    metrics.update(flat_numbers(json.loads(f.read_text(encoding="utf-8"))))
                except (ValueError, AttributeError):
                    continue
    return metrics


class StageRun:
    """The OpenLineage run of one stage execution."""

    def __init__(self, root: Path, stage: str, command: list[str]) -> None:
        from openlineage.client.uuid import generate_new_uuid

        from components.lineage import openlineage as ol
        from components.orchestration.graph import load

        self.root, self.stage, self.command = root, stage, command
        self.graph = load(root / "dvc.yaml")
        self.spec = _spec(root, stage)
        params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")) or {}
        self.variables = params
        self.ns = ol.namespace((params.get("domain") or {}).get("name"))
        self.run_id = str(generate_new_uuid())
        self.parent = os.environ.get(PARENT_ENV)
        _CURRENT.update(parent=f"{self.ns}/{stage}/{self.run_id}", ns=self.ns)

    @classmethod
    def for_command(cls, command: str, argv: list[str]) -> StageRun | None:
        """A run when DVC executes this command as a stage of the project's dvc.yaml."""
        addressing = os.environ.get("DVC_STAGE")
        if not addressing or os.environ.get("OPENLINEAGE_DISABLED", "").lower() == "true":
            return None
        try:
            from components.tracking import project_root

            root = Path(os.environ.get("DVC_ROOT") or project_root())
            stage = addressing.rpartition(":")[2].split("@")[0]
            if not (root / "dvc.yaml").is_file() or stage not in _stage_names(root):
                return None
            return cls(root, stage, ["dapt", command, *argv])
        except Exception as exc:
            print(f"[lineage] no lineage for this run: {exc}", file=sys.stderr)
            return None

    def _facets(self, code: int | None, with_results: bool) -> dict[str, Any]:
        from components.lineage import openlineage as ol
        from components.tracking import RUN_IDS, git_commit

        commit, dirty = git_commit(self.root)
        return {
            "dapt": ol.DaptRunFacet(
                stage=self.stage,
                command=" ".join(self.command),
                gitCommit=commit,
                gitDirty=dirty,
                params=resolved_params(self.root, list(self.spec.get("params") or [])),
                mlflowRunIds=list(RUN_IDS),
                metrics=stage_metrics(self.root, self.spec, self.variables) if with_results else {},
                exitCode=code,
            )
        }

    def event(self, state, code: int | None = None, error: str | None = None):
        from components.lineage import openlineage as ol
        from components.orchestration.lineage_names import stage_datasets

        done = state == ol.RunState.COMPLETE
        deps, outs, inside = stage_datasets(self.graph, self.stage)
        hashes: dict[str, str] = {}
        if not done:  # START and FAIL: the stage's own outs (what it was to write)
            outs, inside = list(self.graph.stages[self.stage].outs), {}
        else:
            # DVC hashes a path inside our outputs as the stage that depends on it declares it.
            wanted: dict[str, set[str] | None] = {self.stage: None}
            for other, spec in self.graph.stages.items():
                for dep in spec.deps:
                    if dep in inside and other != self.stage:
                        wanted.setdefault(other, set()).add(dep)
            hashes = dvc_hashes(self.root, wanted)
        return ol.run_event(
            state,
            self.ns,
            self.stage,
            self.run_id,
            ins=ol.inputs(self.ns, deps, hashes),
            outs=ol.outputs(self.ns, self.stage, outs, hashes, inside),
            run_facets=self._facets(code, done),
            parent=self.parent,
            error=error,
        )

    def start(self) -> None:
        from components.lineage import openlineage as ol

        self._send(lambda: self.event(ol.RunState.START))

    def end(self, code: int, error: str | None) -> None:
        from components.lineage import openlineage as ol

        if code == 0:
            self._send(lambda: self.event(ol.RunState.COMPLETE, code))
        else:
            self._send(lambda: self.event(ol.RunState.FAIL, code, error or f"exit {code}"))

    def _send(self, build) -> None:
        try:
            event = build()
        except Exception as exc:
            print(f"[lineage] event not built: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        send(self.root, event)


def _stage_names(root: Path) -> set[str]:
    data = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}
    return set(data.get("stages") or {})


_CONSUMED: dict[tuple[str, str], dict[str, str]] = {}


def consumed(root: Path, stage: str) -> dict[str, str]:
    """``path -> DVC hash`` of the stage's data deps (not code: ``components/...``) as they are
    now, i.e. the exact versions this stage run reads. One DVC pass per process and stage: the
    register stage asks twice (its MLflow tags, then its registration event)."""
    key = (str(Path(root).resolve()), stage)
    if key not in _CONSUMED:
        from components.orchestration.graph import load

        st = load(root / "dvc.yaml").stages[stage]
        data = [d for d in st.deps if not d.startswith("components")]
        found = dvc_hashes(root, {stage: set(data)})
        _CONSUMED[key] = {d: found.get(d, "") for d in data}
    return dict(_CONSUMED[key])


def registration(
    root: Path, stage: str, name: str, version: str, gate: dict[str, Any], tracking_uri: str
) -> None:
    """START + COMPLETE of the job ``register.model_version``: inputs the checkpoints and data
    the register stage read (non-code deps), output the model version with the gate decision.
    Only when this process is a stage run DVC started (as stage events are)."""
    if not _CURRENT:
        return
    try:
        from openlineage.client.uuid import generate_new_uuid

        from components.lineage import openlineage as ol

        hashes = consumed(root, stage)
        data = list(hashes)
        ns = _CURRENT["ns"]
        run_id = str(generate_new_uuid())
        parent = _CURRENT["parent"]
        ins = ol.inputs(ns, data, hashes)
        out = ol.model_version(ns, tracking_uri, name, str(version), gate)
        events = [
            ol.run_event(ol.RunState.START, ns, ol.REGISTER_JOB, run_id, ins=ins, parent=parent),
            ol.run_event(
                ol.RunState.COMPLETE,
                ns,
                ol.REGISTER_JOB,
                run_id,
                ins=ins,
                outs=[out],
                parent=parent,
            ),
        ]
    except Exception as exc:
        print(f"[lineage] registration event not built: {exc}", file=sys.stderr)
        return
    send(root, *events)
