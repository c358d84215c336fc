"""The JSON schema of params.yaml (``dapt params --schema``), read from the same typed sections
the loader builds (components/config.py), so an editor flags what ``dapt params`` would refuse:
unknown keys, wrong types, values out of range, a profile name that does not exist.

Derived fields (``lang``, filled in from ``domain.lang``) are left out: setting them in their own
section is an error. Rules a section's ``check()`` enforces across fields (exactly one mining
budget, paths inside the project) are not in the schema; ``dapt params`` still checks them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, get_args, get_origin

from components.config import PROFILES, SECTIONS, section_class

SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema"
_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}


def type_schema(tp: Any, *, partial: bool = False) -> dict[str, Any]:
    """The schema of one parameter type (``partial``: no key required, for profile overrides)."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [type_schema(a, partial=partial) for a in args]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (list, tuple):
        return {"type": "array", "items": type_schema(args[0], partial=partial) if args else {}}
    if origin is dict:
        inner = type_schema(args[1], partial=partial) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": inner}
    if is_dataclass(tp):
        return dataclass_schema(tp, partial=partial)
    simple = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        type(None): "null",
    }
    return {"type": simple[tp]} if tp in simple else {}


def dataclass_schema(cls: type, *, partial: bool = False) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required = []
    for f in fields(cls):
        if f.metadata.get("derived"):
            continue
        prop = type_schema(hints[f.name], partial=partial)
        prop.update({_BOUNDS[k]: f.metadata[k] for k in _BOUNDS if f.metadata.get(k) is not None})
        if f.metadata.get("help"):
            prop["description"] = f.metadata["help"]
        default = _default(f)
        if default is not MISSING:
            prop["default"] = default
        elif not partial:
            required.append(f.name)
        props[f.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):
        schema["description"] = " ".join(cls.__doc__.split())
    if required:
        schema["required"] = required
    return schema


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        value = f.default
    elif f.default_factory is not MISSING:
        value = f.default_factory()
    else:
        return MISSING
    if is_dataclass(value):
        return dataclasses.asdict(value)
    return value


def section_schema(section: str) -> dict[str, Any]:
    """A section, with its ``profiles: {smoke|demo|full: overrides}``: the same keys, none
    required (``#/$defs/<section>.overrides``, written once for the three profiles)."""
    schema = dataclass_schema(section_class(section))
    ref = {"$ref": f"#/$defs/{section}.overrides"}
    schema["properties"]["profiles"] = {
        "type": "object",
        "description": "per-profile overrides of this section's keys",
        "properties": {p: ref for p in PROFILES},
        "additionalProperties": False,
    }
    return schema


def params_schema() -> dict[str, Any]:
    """The schema of a whole params.yaml."""
    props: dict[str, Any] = {
        "profile": {
            "enum": list(PROFILES),
            "description": "the default profile (profile.yaml, when present, names the active one)",
        }
    }
    props.update({s: section_schema(s) for s in SECTIONS})
    return {
        "$schema": SCHEMA_ID,
        "title": "params.yaml",
        "description": "Parameters of the domain-adaptive pretraining pipeline (dapt params).",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "$defs": {
            f"{s}.overrides": dataclass_schema(section_class(s), partial=True) for s in SECTIONS
        },
    }
