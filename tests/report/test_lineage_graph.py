"""The run report's lineage picture: the layered graph from real OpenLineage events (the tiny
four-stage DVC project of tests/lineage) and from a dvc.yaml stage graph, and its PNG."""

from __future__ import annotations

import copy

from components.lineage import emit, events
from components.orchestration.graph import parse
from components.report import lineage_graph as lg
from components.report.core import LINEAGE_PNG, build
from tests.lineage.test_openlineage import (
    DVC_YAML,
    _repro_and_emit,
    project,  # noqa: F401 - the shared fixture
)

PNG = b"\x89PNG\r\n\x1a\n"


def test_layers_put_every_node_right_of_all_its_parents():
    nodes = {"r": lg.INPUT, "a": lg.STAGE, "b": lg.STAGE, "c": lg.STAGE, "m": lg.MODEL}
    edges = [("r", "a"), ("a", "b"), ("b", "c"), ("a", "c"), ("c", "m"), ("c", "gone"), ("a", "b")]
    g = lg.layered(nodes, edges)
    assert g.layers == (("r",), ("a",), ("b",), ("c",), ("m",))
    assert ("c", "gone") not in g.edges and len(g.edges) == 5  # unknown node, duplicate dropped
    loop = lg.layered({"x": lg.STAGE, "y": lg.STAGE}, [("x", "y"), ("y", "x")])
    assert sorted(n for layer in loop.layers for n in layer) == ["x", "y"]  # a cycle terminates


def test_events_give_the_registered_versions_lineage_only(project):  # noqa: F811
    _repro_and_emit(project)
    g = lg.from_events(events.read(project))
    # No version registered: every stage's latest run; raw inputs feed the stages reading them.
    assert g.layers == (("raw/a.txt", "raw/b.txt"), ("a", "b"), ("c", "d"))
    emit.StageRun(project, "c", ["dapt", "register"])  # registration runs inside stage c
    gate = {"promote": True, "alias": "champion", "reason": "r", "candidate": "x/y"}
    emit.registration(project, "c", "demo-clf", "3", gate, "http://mlflow.example:5000")
    g = lg.from_events(events.read(project))
    assert g.layers == (
        ("raw/a.txt", "raw/b.txt"),
        ("a", "b"),
        ("register.model_version",),
        ("models:/demo-clf/3",),
    )  # c and d are not what the model was made from
    assert g.nodes["models:/demo-clf/3"] == lg.MODEL and g.nodes["raw/a.txt"] == lg.INPUT
    assert "models:/demo-clf/3" in g.source


def test_the_stage_graph_stands_in_without_events():
    spec = copy.deepcopy(DVC_YAML)
    spec["stages"]["register"] = {"cmd": "x", "deps": ["out/c.txt"]}
    spec["stages"]["a"]["deps"] = [*spec["stages"]["a"]["deps"], "components/a", "params.yaml"]
    g = lg.from_stages(parse(spec), "models:/demo-clf/1")
    assert g.layers == (
        ("raw/a.txt", "raw/b.txt"),
        ("a", "b"),
        ("c",),
        ("register",),
        ("models:/demo-clf/1",),
    )  # code and config are not drawn; d leads nowhere near the model
    assert lg.from_stages(parse(DVC_YAML)).layers[-1] == ("c", "d")


def test_the_report_embeds_the_picture_and_hands_it_to_the_cli(project, tmp_path):  # noqa: F811
    from components.cli import main

    images: dict[str, bytes] = {}
    page, skipped = build(project, images)  # no events: drawn from dvc.yaml
    assert images[LINEAGE_PNG].startswith(PNG) and len(images[LINEAGE_PNG]) > 1000
    assert "Lineage" not in skipped and 'alt="lineage graph"' in page
    assert "dvc.yaml stage graph" in page
    _repro_and_emit(project)
    out = tmp_path / "r/index.html"
    assert main(["report", "--root", str(project), "--out", str(out)]) == 0
    assert (out.parent / LINEAGE_PNG).read_bytes().startswith(PNG)
    assert "OpenLineage events in reports/lineage" in out.read_text("utf-8")
    assert build(tmp_path / "empty")[1][-1] == "Lineage"
    (project / "reports/lineage/zz.json").write_text("{cut short", "utf-8")
    page, _ = build(project)  # a broken event file: the stage graph stands in, and says why
    assert "dvc.yaml stage graph" in page and "unreadable: JSONDecodeError" in page
