from __future__ import annotations

import pytest
import yaml

from components.errors import ConfigError
from components.orchestration.graph import load, parse
from tests.conftest import ROOT

SPEC = """
stages:
  prep:
    cmd: dapt prep
    deps: [components/prep, data/raw]
    outs: [{data/prep: {persist: true}}]
    metrics: [{metrics/prep.json: {cache: false}}]
  train:
    cmd: [dapt train, echo done]
    deps: [data/prep/train.jsonl, data/tok]
    outs: [models/m]
  tok:
    cmd: dapt tok
    deps: [data/prep]
    outs: [data/tok]
  report:
    cmd: dapt report
    deps: [metrics/prep.json, models]
    outs: [reports/index.html]
  sweep:
    foreach: [a, b]
    do:
      cmd: dapt sweep ${item}
      deps: [models/m]
      outs: ["sweeps/${item}"]
  rebuild:
    frozen: true
    cmd: dapt rebuild
    deps: [data/prep]
    outs: [built/rebuilt]
  sub:
    wdir: ..
    cmd: dapt sub
    deps: [sweeps]
    outs: [sub.txt]
"""


def test_edges_from_outs_to_deps_including_folders_metrics_and_groups():
    g = parse(yaml.safe_load(SPEC))
    assert g.upstream["prep"] == ()
    assert g.upstream["tok"] == ("prep",)
    assert set(g.upstream["train"]) == {"prep", "tok"}  # a file inside an out folder
    assert set(g.upstream["report"]) == {"prep", "train"}  # metrics out; dep is a parent folder
    assert g.upstream["sweep"] == ("train",) and g.stages["sweep"].group
    assert g.stages["sweep"].outs == ("sweeps",)  # interpolated tail dropped
    assert g.upstream["sub"] == ()  # wdir: .. makes its dep ../sweeps, not sweeps
    assert g.stages["train"].cmd == "dapt train && echo done"
    order = g.order
    assert order.index("prep") < order.index("tok") < order.index("train") < order.index("report")
    assert g.downstream("prep") == ["train", "tok", "report", "rebuild"]
    assert g.stages["rebuild"].frozen and "rebuild" not in g.active().order
    assert g.active().upstream["report"] == g.upstream["report"]


def test_a_cycle_is_reported_at_load_time():
    spec = {
        "stages": {
            "a": {"cmd": "x", "deps": ["b.txt"], "outs": ["a.txt"]},
            "b": {"cmd": "y", "deps": ["a.txt"], "outs": ["b.txt"]},
        }
    }
    with pytest.raises(ConfigError, match="cycle"):
        parse(spec)


def test_project_graph_covers_every_dvc_stage_and_starts_with_ingest():
    raw = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    g = load(ROOT / "dvc.yaml")
    assert list(g.stages) == list(raw)
    assert g.order[0] == "ingest"
    assert "ingest" in g.upstream["validate"]
    # Every stage but ingest consumes something another stage produces.
    assert all(g.upstream[s] for s in g.order[1:] if not g.stages[s].frozen)
