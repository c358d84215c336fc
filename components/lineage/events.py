"""Reading emitted OpenLineage events back: the files under reports/lineage/, the dataset graph
they form, and a model version's input tree (the shape ``components.evaluate.lineage`` renders).

A dataset version is (namespace, name, version); the run that wrote it is the COMPLETE event
whose outputs hold that version, so reruns with other data never mix into an older tree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.lineage.emit import EVENTS_DIR

Event = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


def read(root: Path) -> list[Event]:
    """Every event under reports/lineage/, oldest first."""
    folder = Path(root) / EVENTS_DIR
    events = []
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                events.append(json.loads(line))
    return sorted(events, key=lambda e: e.get("eventTime", ""))


def version(ds: dict) -> str:
    return str(((ds.get("facets") or {}).get("version") or {}).get("datasetVersion", ""))


def key(ds: dict) -> Key:
    return ds["namespace"], ds["name"]


def completed(events: list[Event]) -> list[Event]:
    return [e for e in events if e.get("eventType") == "COMPLETE"]


def producers(events: list[Event]) -> dict[tuple[str, str, str], Event]:
    """(namespace, name, version) -> the latest COMPLETE event that wrote it."""
    found: dict[tuple[str, str, str], Event] = {}
    for e in completed(events):
        for ds in e.get("outputs") or []:
            found[(*key(ds), version(ds))] = e
    return found


def ancestors(events: list[Event], target: Key, target_version: str = "") -> set[Key]:
    """Every dataset the target version was derived from, through the runs that wrote them."""
    made = producers(events)
    seen: set[tuple[str, str, str]] = set()
    todo = [(*target, target_version)]
    found: set[Key] = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        run = made.get(node) or (None if node[2] else _latest(events, node[:2]))
        for ds in (run or {}).get("inputs") or []:
            found.add(key(ds))
            todo.append((*key(ds), version(ds)))
    return found


def _latest(events: list[Event], target: Key) -> Event | None:
    hits = [e for e in completed(events) if any(key(d) == target for d in e.get("outputs") or [])]
    return hits[-1] if hits else None


def model_tree(events: list[Event], name: str, model_version: str) -> dict[str, Any] | None:
    """The input tree of ``models:/name/version`` from the events, or None when no event names it."""
    target = next(
        (
            (*key(ds), version(ds))
            for e in completed(events)
            for ds in e.get("outputs") or []
            if ds["name"] == f"models:/{name}/{model_version}"
        ),
        None,
    )
    if target is None:
        return None
    made = producers(events)
    memo: dict[tuple[str, str, str], dict] = {}

    def node(ds: dict) -> dict[str, Any]:
        k = (*key(ds), version(ds))
        if k in memo:
            return memo[k]
        run = made.get(k)
        n: dict[str, Any] = {"path": ds["name"], "md5": version(ds)}
        memo[k] = n
        if run is not None:
            n["stage"] = run["job"]["name"]
            n["inputs"] = [node(d) for d in run.get("inputs") or []]
        return n

    run = made[target]
    return {"stage": run["job"]["name"], "inputs": [node(d) for d in run.get("inputs") or []]}


def _run_ids(event: Event) -> list[str]:
    facet = (event["run"].get("facets") or {}).get("dapt") or {}
    return [str(r) for r in facet.get("mlflowRunIds") or []]


def producing_runs(evs: list[Event], consumed: dict[Key, str]) -> dict[str, list[str]]:
    """``job -> MLflow run ids`` of the COMPLETE runs that wrote exactly these dataset versions
    (``(namespace, name) -> version``): the runs whose outputs a consumer read, never merely the
    latest run of the job. A version no event wrote (a stage run by hand, before lineage
    existed) names no run."""
    made = producers(evs)
    found: dict[str, list[str]] = {}
    for (ns, name), v in consumed.items():
        run = made.get((ns, name, v)) if v else None
        if run is None:
            continue
        ids = found.setdefault(run["job"]["name"], [])
        ids.extend(r for r in _run_ids(run) if r not in ids)
    return found
