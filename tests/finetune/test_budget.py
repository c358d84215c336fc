"""The label-budget curve's runs: stratified, nested subsets that every backbone shares; the
plan's budget units and their folders; and a small matrix with budgets through finetune, compare
and the register's recommendation on the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from components.finetune import matrix
from components.finetune.data import Split, budget_rows, budget_subset
from components.finetune.units import parse_id, unit_id
from tests.conftest import domain_section
from tests.finetune.tiny import build_backbone

LABELS = np.repeat(np.arange(4), [50, 40, 30, 5])  # class 3 has fewer rows than the budget
np.random.default_rng(7).shuffle(LABELS)


def test_subsets_are_stratified_nested_and_fixed_by_the_seed():
    for seed in range(3):
        small, big = budget_rows(LABELS, 8, seed), budget_rows(LABELS, 32, seed)
        assert np.bincount(LABELS[small]).tolist() == [8, 8, 8, 5]  # the small class: all of it
        assert np.bincount(LABELS[big]).tolist() == [32, 32, 30, 5]
        assert set(small) <= set(big)  # 8 per class inside the 32
        assert list(small) == sorted(small)
    assert set(budget_rows(LABELS, 8, 0)) != set(budget_rows(LABELS, 8, 1))  # another draw


def test_every_backbone_trains_a_seed_on_the_same_rows(monkeypatch):
    """The subset is drawn where a unit's job starts, from the unit alone: two backbones' jobs
    at one seed see the very same texts."""
    seen: dict[str, list[str]] = {}

    def fake(backbone, strategy, labels, train, *rest):
        seen[backbone] = train.texts
        return None

    monkeypatch.setattr(matrix, "finetune", fake)
    split = Split([f"t{i}" for i in range(len(LABELS))], LABELS)
    for backbone, cand in (("/m/base", "base"), ("/m/dapt", "dapt")):
        unit = matrix.Unit(cand, "full", 1, budget=8)
        matrix._job((backbone, unit, [], split, split, split, None, None))
    assert seen["/m/base"] == seen["/m/dapt"] == budget_subset(split, 8, 1).texts
    assert len(seen["/m/base"]) == 29


def test_the_plan_adds_every_candidate_at_every_budget_and_ids_round_trip():
    units = matrix.plan(["base", "dapt"], ["lora"], 2, [], [], None, [32, 8], "full")
    budgeted = [u for u in units if u.budget is not None]
    assert len(budgeted) == 2 * 2 * 2
    assert [u.budget for u in budgeted[:4]] == [8, 8, 8, 8]  # fewest labels first
    # the curve's "all" point is the strategy's own run, planned once
    assert sum(u.strategy == "full" and u.budget is None for u in units) == 4
    again = matrix.plan(["base"], ["full"], 1, [], [], None, [8], "full")
    assert again == [matrix.Unit("base", "full", 0), matrix.Unit("base", "full", 0, budget=8)]
    unit = matrix.Unit("dapt_tapt", "prompt_tuning", 2, budget=32)
    assert unit_id(unit) == "dapt_tapt/prompt_tuning-32pc/seed2"
    assert parse_id(unit_id(unit)) == unit
    assert matrix.from_path("base", "pet-8shot", "seed0").shots == 8
    assert matrix.plan(["base"], ["full"], 1, [], []) == [matrix.Unit("base", "full", 0)]


FINETUNE = {"max_len": 32, "batch_size": 16, "epochs": 2.0, "max_steps": 0, "evals_per_epoch": 1,
            "patience": 2, "threads": 1, "group_by_length": False,
            "lr": {"full": 3e-3, "head": 3e-2, "frozen": 1e-2, "bitfit": 3e-2, "lora": 1e-2,
                   "prompt_tuning": 1e-1, "p_tuning": 3e-2, "prefix_tuning": 3e-2, "pet": 3e-3}}  # fmt: skip
EVALUATE = {"candidates": ["base", "dapt"], "baseline": "base", "control": "", "seeds": 2,
            "strategies": ["head"], "workers": 1, "pet": {"backbones": [], "shots": []},
            "label_budgets": [2, 6], "budget_strategy": "head", "user_budget": 6,
            "gate": {"bootstrap_samples": 100}}  # fmt: skip


@pytest.fixture(scope="module")
def project(tiny, tmp_path_factory):
    backbone, task = tiny
    root = tmp_path_factory.mktemp("budget")
    shutil.copytree(backbone, root / "models" / "base")
    build_backbone(root / "models" / "dapt", seed=1)
    shutil.copytree(Path(task["train"]).parent, root / "raw")
    tasks = {s: {"path": f"raw/{s}.jsonl"} for s in ("train", "dev", "test")}
    params = {"profile": "demo", "domain": domain_section(task=tasks),
              "finetune": FINETUNE, "evaluate": EVALUATE}  # fmt: skip
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    (root / "metrics").mkdir()
    (root / "metrics" / "dapt.json").write_text(json.dumps({"train_tokens": 1000}), "utf-8")
    return root


def test_a_matrix_with_budgets_runs_through_finetune_compare_and_the_recommendation(
    project, monkeypatch
):
    from components.cli import main
    from components.config import load_section
    from components.register import stage as register

    root = project
    monkeypatch.chdir(root)
    common = ["--params", "params.yaml", "--no-mlflow", "--no-validated-check"]
    args = ["finetune", *common, "--task", "raw", "--out", "ft", "--metrics", "ft.json"]
    assert main(args) == 0
    found = sorted(p.parent.relative_to(root / "ft").as_posix() for p in (root / "ft").glob("*/*/seed*/result.json"))  # fmt: skip
    assert "dapt/head-2pc/seed1" in found and "base/head-6pc/seed0" in found
    assert len(found) == 2 * 3 * 2  # candidates x (all, 2, 6 per class) x seeds

    args = ["compare", *common[:3], "--runs", "ft", "--task", "raw", "--shape", "none.json",
            "--report", "evaluation.md", "--out-dir", "evaluation", "--plot", "cm.png",
            "--metrics", "evaluate.json"]  # fmt: skip
    assert main(args) == 0
    md = (root / "evaluation.md").read_text(encoding="utf-8")
    assert "| candidate | head | head-2pc | head-6pc |" in md  # a column per budget
    assert "## Label-budget curve" in md and (root / "evaluation/label_budget.png").exists()
    curve = json.loads((root / "evaluation/label_budget.json").read_text())["curve"]
    assert [p["labels_per_class"] for p in curve["dapt"]] == [2, 6, "all"]
    assert json.loads((root / "evaluation/choice.json").read_text())["strategy"] == "head"

    ev = load_section("evaluate", "params.yaml")
    results = matrix.load(root / "ft")
    plan = json.loads((root / "ft/plan.json").read_text())
    y = np.asarray([json.loads(x)["label"] for x in (root / "raw/test.jsonl").read_text().splitlines() if x])  # fmt: skip
    y = np.asarray([plan["labels"].index(v) for v in y])
    paths = register.Paths(root / "ft", root / "evaluation", root / "raw", root / "out", root / "d")
    paths.pretrain_metrics = root / "metrics"
    review, rec = register.label_budget(results, plan, y, ev, {}, paths)
    assert review == {}  # no candidate loses everywhere: nothing refused
    assert rec["costs"] == {"base": 0.0, "dapt": 1000.0}
    assert [b["labels_per_class"] for b in rec["budgets"]] == [2, 6, "all"]
    assert rec["user_budget"] == 6 and rec["headline"].startswith("with 6 labels per class")
