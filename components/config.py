"""params.yaml -> typed, validated dataclasses, one per stage section.

Each section may carry ``profiles: {smoke: {...}, demo: {...}, full: {...}}`` overrides; the
active profile picks one. Keeping a section's overrides inside the section means a DVC stage that
lists ``params: [profile.yaml: [profile], <section>]`` reruns exactly when its resolved values
change.

The active profile is run configuration, not code: it lives in ``profile.yaml`` next to
params.yaml, untracked by git (so switching it leaves the checkout clean and ``git_dirty``
honest) and tracked by DVC as a params file. params.yaml's ``profile:`` is the default a fresh
clone starts with (``dapt params --init-profile`` writes it to profile.yaml; make does).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import posixpath
import re
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from components.errors import ConfigError
from components.params_model import DERIVED_MARK, validate

PROFILES = ("smoke", "demo", "full")
DEFAULT_PROFILE = "demo"
PROFILE_FILE = "profile.yaml"
T = TypeVar("T")

# section -> "module:Class"; imported lazily so reading one section never imports torch.
SECTIONS: dict[str, str] = {
    "domain": "components.domain:DomainParams",
    "execution": "components.execution:ExecutionParams",
    "tracking": "components.config:TrackingParams",
    "ingest": "components.ingest.params:IngestParams",
    "validate": "components.validate.params:ValidateParams",
    "decontaminate": "components.decontaminate.params:DecontaminateParams",
    "tokenizer": "components.tokenizer.params:TokenizerParams",
    "pretrain": "components.pretrain.params:PretrainParams",
    "mine": "components.mine.params:MineParams",
    "newwords": "components.newwords.params:NewwordsParams",
    "orchestration": "components.orchestration.params:OrchestrationParams",
    "finetune": "components.finetune.params:FinetuneParams",
    "evaluate": "components.evaluate.params:EvaluateParams",
    "distill": "components.distill.params:DistillParams",
}


def param(
    default: Any = MISSING,
    *,
    ge=None,
    gt=None,
    le=None,
    lt=None,
    help: str = "",
    derived: str = "",
    **kw,
):
    """A dataclass field with range bounds checked at load time.

    ``derived`` names the one params key a stage copies into this field (``domain.lang``):
    setting the field in its own section is an error, so a value never lives in two places.
    """
    # pydantic reads the metadata keys that are Field() arguments (bounds, description,
    # json_schema_extra); help and derived are this module's.
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    meta: dict[str, Any] = {**bounds, "help": help, "derived": derived}
    if help:
        meta["description"] = help
    if derived:
        meta["json_schema_extra"] = {DERIVED_MARK: derived}  # the schema leaves it out
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")
# URI schemes that name local files: their path must stay inside the project like a plain path.
LOCAL_SCHEMES = {"file", "sqlite"}


def inside_project(path: str) -> bool:
    """A relative path that stays inside the project (no absolute path, no ``..`` escape)."""
    if not path or "\\" in path or os.path.isabs(path) or re.match(r"^[A-Za-z]:", path):
        return False
    norm = posixpath.normpath(path)
    return norm != ".." and not norm.startswith("../")


def output_location(value: str, key: str, *, uri_ok: bool = True) -> list[str]:
    """Problems of a params value naming where outputs go: a folder inside the project, or (when
    ``uri_ok``) the URI of a store (``s3://``, ``gs://``, ``http(s)://`` MLflow server, ...).

    Outputs written outside the project would escape its versioning and could overwrite files
    that belong to no run (``../``, ``/etc``); a store URI is a deliberate, named destination.
    ``key`` is the field name (``check()`` prefixes the section).
    """
    m = _SCHEME.match(value)
    if m and uri_ok:
        scheme, rest = m.group("scheme").lower(), m.group("rest")
        if scheme not in LOCAL_SCHEMES:
            return []
        # sqlite:///relative.db (three slashes) is relative, sqlite:////abs absolute; a file://
        # URI is always absolute.
        local = rest[1:] if scheme == "sqlite" and rest.startswith("/") else rest
        if inside_project(local):
            return []
        inside = "sqlite:///.mlflow/mlflow.db" if scheme == "sqlite" else _example(key)
        return [
            f"{key}: {value!r} names a local file outside the project: use a path inside it "
            f"({inside}) or the URI of a store (s3://..., https://mlflow.example.com)"
        ]
    if m and not uri_ok:
        return [
            f"{key}: {value!r} is a URI: this must be a folder inside the project (files are "
            f"moved in and out of it), such as {_example(key)}"
        ]
    if inside_project(value):
        return []
    store = " or the URI of a store (s3://bucket/path, gs://...)" if uri_ok else ""
    return [
        f"{key}: {value!r} is outside the project (absolute, or escaping it with ..): outputs "
        f"stay inside the project; use a relative path such as {_example(key)}{store}"
    ]


def _example(key: str) -> str:
    leaf = key.rsplit(".", 1)[-1]
    return {"mlflow_artifacts": ".mlflow/artifacts", "dvc_remote": ".dvc-remote"}.get(
        leaf, f"data/{leaf.removesuffix('_folder')}"
    )


@dataclass
class TrackingParams:
    """Where runs, models and data versions are stored (environment variables may override)."""

    mlflow_uri: str = param(
        "sqlite:///.mlflow/mlflow.db",
        help="MLflow tracking URI; relative sqlite paths are under the project",
    )
    mlflow_artifacts: str = param(".mlflow/artifacts", help="artifact folder for new experiments")
    dvc_remote: str = param(".dvc-remote", help="default DVC remote folder (also in .dvc/config)")

    def check(self) -> list[str]:
        # MLFLOW_TRACKING_URI / DAPT_DVC_REMOTE still override at run time (announced): a
        # deliberate choice of whoever runs the pipeline, not a value travelling with the project.
        return [
            *output_location(self.mlflow_uri, "mlflow_uri"),
            *output_location(self.mlflow_artifacts, "mlflow_artifacts"),
            *output_location(self.dvc_remote, "dvc_remote"),
        ]


def build(cls: type[T], data: dict[str, Any], key: str, *, internal: bool = False) -> T:
    """Build dataclass ``cls`` from ``data``; every error names the full key path.

    ``internal``: the code itself fills in derived fields (``with_derived``)."""
    obj = validate(cls, data, key, internal=internal)
    _run_checks(obj, key)
    return obj


def _run_checks(obj: Any, key: str) -> None:
    """Each dataclass's ``check()`` (rules across its fields), innermost first."""
    for f in fields(obj):
        value, sub = getattr(obj, f.name), f"{key}.{f.name}"
        if isinstance(value, list):
            items = [(f"{sub}[{i}]", v) for i, v in enumerate(value)]
        elif isinstance(value, dict):
            items = [(f"{sub}.{k}", v) for k, v in value.items()]
        else:
            items = [(sub, value)]
        for item_key, item in items:
            if is_dataclass(item):
                _run_checks(item, item_key)
    check = getattr(obj, "check", None)
    for problem in (check() if check else None) or []:
        raise ConfigError(f"{key}.{problem}")


def with_derived(obj: T, **values: Any) -> T:
    """A copy of a params object with derived fields filled in (same checks as loading)."""
    data = {**dataclasses.asdict(obj), **values}
    return build(type(obj), data, f"<{type(obj).__name__}>", internal=True)


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = (
            deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def read_params_file(path: str | os.PathLike = "params.yaml") -> dict[str, Any]:
    """params.yaml as a dict; ``profile`` is the active one (profile.yaml's when it exists)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: parameters file not found (run from the project root)")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    chosen = read_profile_file(profile_file(path))
    if chosen is not None:
        data["profile"] = chosen
    return data


def profile_file(params_path: str | os.PathLike) -> Path:
    return Path(params_path).with_name(PROFILE_FILE)


def read_profile_file(path: Path) -> str | None:
    """The profile named in ``profile.yaml``, or None when the file does not exist."""
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or set(data) != {"profile"}:
        raise ConfigError(
            f"{path}: must hold exactly one key, profile (write it with dapt params --set-profile)"
        )
    if data["profile"] not in PROFILES:
        raise ConfigError(
            f"{path}: profile: {data['profile']!r} is not one of {', '.join(PROFILES)}"
        )
    return data["profile"]


def active_profile(data: dict[str, Any]) -> str:
    profile = data.get("profile", DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise ConfigError(f"profile: {profile!r} is not one of {', '.join(PROFILES)}")
    return profile


def section_class(section: str) -> type:
    if section not in SECTIONS:
        raise ConfigError(f"{section}: unknown section (known: {', '.join(SECTIONS)})")
    module, cls = SECTIONS[section].split(":")
    return getattr(importlib.import_module(module), cls)


def resolve_section(data: dict[str, Any], section: str, profile: str) -> dict[str, Any]:
    raw = dict(data.get(section) or {})
    overrides = raw.pop("profiles", None) or {}
    bad = sorted(set(overrides) - set(PROFILES))
    if bad:
        raise ConfigError(
            f"{section}.profiles.{bad[0]}: unknown profile (known: {', '.join(PROFILES)})"
        )
    return deep_merge(raw, overrides.get(profile) or {})


def source_key(section: str, path: str, params_file: str | os.PathLike = "params.yaml") -> str:
    """The params key to edit for ``<section>.<path>``: the active profile's override when it
    sets the value (``pretrain.profiles.smoke.dapt.seq_len``), else the section's own key.
    Advice naming the other one would not work when followed."""
    try:
        data = read_params_file(params_file)
        profile = active_profile(data)
    except ConfigError:
        return f"{section}.{path}"
    node: Any = ((data.get(section) or {}).get("profiles") or {}).get(profile) or {}
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return f"{section}.{path}"
        node = node[part]
    return f"{section}.profiles.{profile}.{path}"


def load_section(
    section: str, path: str | os.PathLike = "params.yaml", *, profile: str | None = None
):
    """Typed parameters of one section with the active (or given) profile applied."""
    data = read_params_file(path)
    profile = profile or active_profile(data)
    return build(section_class(section), resolve_section(data, section, profile), section)


def load_all(
    path: str | os.PathLike = "params.yaml", *, profile: str | None = None
) -> dict[str, Any]:
    """Every section, validated; unknown top-level keys are errors."""
    data = read_params_file(path)
    profile = profile or active_profile(data)
    unknown = sorted(set(data) - set(SECTIONS) - {"profile"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section (known: profile, {', '.join(SECTIONS)})")
    return {s: build(section_class(s), resolve_section(data, s, profile), s) for s in SECTIONS}


def as_flat_dict(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a params dataclass for MLflow (``validate.corpus.max_dup_rate``)."""
    src = dataclasses.asdict(obj) if is_dataclass(obj) else obj
    flat: dict[str, Any] = {}
    for k, v in src.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            flat.update(as_flat_dict(v, name + "."))
        else:
            flat[name] = v
    return flat
