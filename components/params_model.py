"""The pydantic side of params validation: a TypeAdapter per params dataclass (the dataclasses
stay plain stdlib ones, declared with ``components.config.param``), and its errors as
ConfigError messages naming the full key, the value and the limit or fix.

pydantic is imported on first use: reading params costs it once per process (docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar, get_args, get_origin

from components.errors import ConfigError

T = TypeVar("T")
# Marks a derived field in the JSON schema pydantic writes (params_schema drops those fields).
DERIVED_MARK = "x-derived-from"

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


def _unwrap(tp: Any) -> Any:
    """``X`` for ``X | None`` (pydantic's error locations have no step for it)."""
    args = [a for a in get_args(tp) if a is not type(None)]
    if get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return tp


def _type_at(cls: type, loc: tuple) -> Any:
    """The declared type at pydantic error location ``loc`` inside ``cls`` (None: unknown)."""
    tp: Any = cls
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and is_dataclass(tp):
            tp = typing.get_type_hints(tp).get(part)
        elif get_origin(tp) in (list, dict):
            tp = get_args(tp)[-1]
        else:
            return None
    return _unwrap(tp)


def _field(cls: type, loc: tuple) -> dataclasses.Field | None:
    owner = _type_at(cls, loc[:-1])
    if not (loc and is_dataclass(owner)):
        return None
    return {f.name: f for f in fields(owner)}.get(loc[-1])


def _problem(cls: type, err: dict, key: str) -> str:
    """A pydantic error as a ConfigError message: the full key, the value, the limit or fix."""
    loc = err["loc"]
    key += "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    value, kind = err["input"], err["type"]
    f = _field(cls, loc)
    owner = _type_at(cls, loc[:-1])
    if kind in ("unexpected_keyword_argument", "extra_forbidden") and is_dataclass(owner):
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
        # As written in param(): 1, not the 1.0 pydantic reports for a float field.
        bound = f.metadata.get(name, err["ctx"][name]) if f else err["ctx"][name]
        return f"{key}: {value!r} is out of range (must be {word} {bound})"
    if kind in _TYPE_MESSAGES:
        return f"{key}: " + _TYPE_MESSAGES[kind].format(
            value=repr(value), kind=type(value).__name__
        )
    return f"{key}: {value!r}: {err['msg']}"


def _first(err: dict) -> int:
    # A renamed or misspelt key explains more than what follows from it: report it first.
    return 0 if err["type"] in ("unexpected_keyword_argument", "extra_forbidden") else 1


def validate(cls: type[T], data: dict[str, Any], key: str, *, internal: bool = False) -> T:
    """``data`` as a ``cls`` instance, or a ConfigError about its first problem (``key``: where
    ``data`` sits in params.yaml; ``internal``: derived fields may be set)."""
    from pydantic import ValidationError

    try:
        return adapter(cls).validate_python(_str_keys(data), context={"internal": internal})
    except ValidationError as exc:
        err = min(exc.errors(), key=_first)
        raise ConfigError(_problem(cls, err, key)) from None
