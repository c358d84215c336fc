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
import functools
import importlib
import os
import posixpath
import re
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import yaml

from components.errors import ConfigError

PROFILES = ("smoke", "demo", "full")
DEFAULT_PROFILE = "demo"
PROFILE_FILE = "profile.yaml"
# Marks a derived field in the JSON schema pydantic writes (params_schema drops those fields).
DERIVED_MARK = "x-derived-from"
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


# What a pydantic error type says in a message: ``{value}`` is the bad value, ``{kind}`` its type.
_TYPE_MESSAGES = {
    "int_type": "expected an integer, got {value}",
    "float_type": "expected a number, got {value}",
    "bool_type": "expected true or false, got {value}",
    "string_type": "expected a string, got {value}",
    "list_type": "expected a list, got {kind} {value}",
    "dict_type": "expected a mapping, got {kind}",
    "dataclass_type": "expected a mapping, got {kind}",
}
_BOUND_WORDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}


def _dataclasses_in(tp: Any):
    if isinstance(tp, type) and is_dataclass(tp):
        yield tp
    for arg in get_args(tp):
        yield from _dataclasses_in(arg)


def _prepare(cls: type) -> None:
    """Make pydantic read dataclass ``cls`` (and those inside its fields) as a params file needs:
    strict values (no ``"3"`` for 3, no 1 for true; an int is a float), unknown keys refused."""
    if "__pydantic_config__" in cls.__dict__:
        return
    # A stdlib dataclass takes pydantic settings only from these attributes: TypeAdapter(config=)
    # refuses dataclasses, and the modules declaring them stay free of pydantic.
    cls.__pydantic_config__ = {"strict": True, "extra": "forbid"}
    cls.__get_pydantic_core_schema__ = classmethod(_core_schema)
    for tp in typing.get_type_hints(cls).values():
        for inner in _dataclasses_in(tp):
            _prepare(inner)


def _core_schema(cls: type, source: Any, handler: Any) -> Any:
    from pydantic_core import core_schema

    schema = handler(source)
    dc = handler.resolve_ref_schema(schema)
    # Strict mode would want a dataclass instance where params.yaml has a mapping; the fields
    # inside stay strict.
    dc["strict"] = False
    derived = {f.name: f.metadata["derived"] for f in fields(cls) if f.metadata.get("derived")}
    for f in dc["schema"]["fields"]:
        if f["name"] in derived:
            # Wrapped inside the default, so only a value that is given is refused.
            node = f["schema"] if f["schema"]["type"] == "default" else f
            node["schema"] = core_schema.with_info_before_validator_function(
                _refuse_derived(derived[f["name"]]), node["schema"]
            )
    return schema


def _refuse_derived(source: str):
    from pydantic_core import PydanticCustomError

    def refuse(value: Any, info: Any) -> Any:
        if not (info.context or {}).get("internal"):
            raise PydanticCustomError("derived", "set by {source}", {"source": source})
        return value

    return refuse


@functools.cache
def adapter(cls: type) -> Any:
    """The pydantic TypeAdapter of a params dataclass (built once: it takes milliseconds)."""
    from pydantic import TypeAdapter

    _prepare(cls)
    return TypeAdapter(cls)


def _str_keys(value: Any) -> Any:
    # YAML reads `1: x` as an int key; mapping keys in params.yaml are names (labels, strategies).
    if isinstance(value, dict):
        return {str(k): _str_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_str_keys(v) for v in value]
    return value


def _type_at(cls: type, loc: tuple) -> Any:
    """The declared type at pydantic error location ``loc`` inside ``cls`` (None: not a field)."""
    tp: Any = cls
    for part in loc:
        args = [a for a in get_args(tp) if a is not type(None)]
        if get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
            tp = args[0]  # Optional[X]: pydantic's location has no step for it
        if isinstance(tp, type) and is_dataclass(tp):
            tp = typing.get_type_hints(tp).get(part)
        elif get_origin(tp) in (list, dict):
            tp = get_args(tp)[-1]
        else:
            return None
    return tp


def _field(cls: type, loc: tuple) -> dataclasses.Field | None:
    owner = _type_at(cls, loc[:-1])
    if not (loc and isinstance(owner, type) and is_dataclass(owner)):
        return None
    return {f.name: f for f in fields(owner)}.get(loc[-1])


def _problem(cls: type, err: dict, key: str) -> str:
    """A pydantic error as a ConfigError message: the full key, the value, the limit or fix."""
    loc = err["loc"]
    key += "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    value, kind = err["input"], err["type"]
    f = _field(cls, loc)
    if kind == "unexpected_keyword_argument":
        owner = _type_at(cls, loc[:-1])
        renamed = getattr(owner, "RENAMED", {})
        if loc[-1] in renamed:
            return f"{key}: {renamed[loc[-1]]}"
        return f"{key}: unknown key (known keys: {', '.join(f.name for f in fields(owner))})"
    if kind == "derived":
        return f"{key}: set by {err['ctx']['source']} (one place per value): remove it here"
    if kind == "missing":
        hint = f.metadata.get("help") if f else ""
        return f"{key}: required key is missing" + (f" ({hint})" if hint else "")
    if kind == "literal_error":
        allowed = get_args(_type_at(cls, loc)) or (err["ctx"]["expected"],)
        return f"{key}: {value!r} is not one of {', '.join(map(repr, allowed))}"
    if kind in _BOUND_WORDS:
        name, word = _BOUND_WORDS[kind]
        bound = f.metadata.get(name) if f else err["ctx"][name]  # as written: 1, not 1.0
        return f"{key}: {value!r} is out of range (must be {word} {bound})"
    if kind in _TYPE_MESSAGES:
        return f"{key}: " + _TYPE_MESSAGES[kind].format(
            value=repr(value), kind=type(value).__name__
        )
    return f"{key}: {value!r}: {err['msg']}"


def _first(err: dict) -> int:
    # A renamed or misspelt key explains more than what follows from it: report it first.
    return 0 if err["type"] == "unexpected_keyword_argument" else 1


def build(cls: type[T], data: dict[str, Any], key: str, *, internal: bool = False) -> T:
    """Build dataclass ``cls`` from ``data``; every error names the full key path.

    ``internal``: the code itself fills in derived fields (``with_derived``)."""
    from pydantic import ValidationError

    try:
        obj = adapter(cls).validate_python(_str_keys(data), context={"internal": internal})
    except ValidationError as exc:
        err = min(exc.errors(), key=_first)
        raise ConfigError(_problem(cls, err, key)) from None
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
