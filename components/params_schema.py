"""The JSON schema of params.yaml (``dapt params --schema``), written by pydantic from the same
validators the loader uses (components/config.py), so an editor flags what ``dapt params`` would
refuse: unknown keys, wrong types, values out of range, a profile name that does not exist.

Derived fields (``lang``, filled in from ``domain.lang``) are left out: setting them in their own
section is an error. Rules a section's ``check()`` enforces across fields (exactly one mining
budget, paths inside the project) are not in the schema; ``dapt params`` still checks them.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from components.config import PROFILES, SECTIONS, section_class
from components.params_model import DERIVED_MARK, adapter

SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema"
# Keys whose value is data, not a schema; keys left out (``$defs`` are inlined where used).
_DATA = {"default", "enum", "const", "examples"}
_DROP = {"title", "$defs"}


class _Generator(GenerateJsonSchema):
    # No generated titles ("Max Steps"): the key says it, the description explains it.
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    # Defaults built by a factory (lists, nested sections) are shown like plain ones.
    def get_default_value(self, schema: Any) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()
        return super().get_default_value(schema)


def _tidy(node: Any, defs: dict[str, Any], *, partial: bool) -> Any:
    """``node`` with ``$ref`` inlined (one self-contained object per section), derived fields,
    titles and, when ``partial`` (profile overrides), required keys removed."""
    if isinstance(node, list):
        return [_tidy(v, defs, partial=partial) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        node = {**copy.deepcopy(target), **{k: v for k, v in node.items() if k != "$ref"}}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or (key == "required" and partial):
            continue
        if key in _DATA:
            out[key] = value
        elif key == "properties":
            out[key] = {
                name: _tidy(sub, defs, partial=partial)
                for name, sub in value.items()
                if DERIVED_MARK not in sub
            }
        elif key == "description":
            out[key] = " ".join(value.split())  # docstrings: one line, as an editor shows it
        else:
            out[key] = _tidy(value, defs, partial=partial)
    if "required" in out:
        out["required"] = [k for k in out["required"] if k in out.get("properties", {})]
        if not out["required"]:
            del out["required"]
    return out


def dataclass_schema(cls: type, *, partial: bool = False) -> dict[str, Any]:
    """The schema of params dataclass ``cls`` (``partial``: no key required)."""
    raw = adapter(cls).json_schema(schema_generator=_Generator)
    return _tidy(raw, raw.get("$defs", {}), partial=partial)


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
