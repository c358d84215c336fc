"""Validate events against the vendored OpenLineage spec (schemas/openlineage) and our facets'
schemas (schemas/dapt): the event as a RunEvent, then every facet against the schema its
``_schemaURL`` names. An unknown schema URL is a failure, not a skip."""

from __future__ import annotations

import functools
import json

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.conftest import ROOT

RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


@functools.cache
def registry() -> Registry:
    docs = [json.loads(f.read_text("utf-8")) for f in sorted((ROOT / "schemas").rglob("*.json"))]
    return Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)


def _check(instance: dict, ref: str) -> None:
    base = ref.partition("#")[0]
    assert base in registry(), f"no vendored schema for {ref}"
    Draft202012Validator({"$ref": ref}, registry=registry()).validate(instance)


def facets(event: dict):
    yield from (event["run"].get("facets") or {}).values()
    yield from (event["job"].get("facets") or {}).values()
    for ds in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
        yield from (ds.get("facets") or {}).values()
        yield from (ds.get("inputFacets") or {}).values()
        yield from (ds.get("outputFacets") or {}).values()


def validate(event: dict) -> None:
    _check(event, RUN_EVENT)
    for facet in facets(event):
        _check(facet, facet["_schemaURL"])
