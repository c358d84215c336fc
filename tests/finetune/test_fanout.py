"""The fanned-out matrix (plan, one ``--unit`` call per unit, then the stage gathering them)
gives the same evaluation table as the single-stage run, and reuses a staged unit only when it
was run with the inputs the stage has now."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.cli import main
from components.compare.core import combos, markdown_table, metrics_dict, pet_table
from components.finetune import matrix
from tests.conftest import domain_section
from tests.finetune.tiny import WORDS, build_backbone

FINETUNE = {"max_len": 32, "batch_size": 16, "epochs": 4.0, "max_steps": 0, "evals_per_epoch": 2,
            "patience": 4, "threads": 1, "group_by_length": False, "pet": {"shots": 2, "epochs": 2},
            "lr": {"full": 3e-3, "head": 3e-2, "frozen": 1e-2, "bitfit": 3e-2, "lora": 1e-2,
                   "prompt_tuning": 1e-1, "p_tuning": 3e-2, "prefix_tuning": 3e-2, "pet": 3e-3}}  # fmt: skip
EVALUATE = {"candidates": ["base", "dapt"], "baseline": "base", "control": "dapt",
            "strategies": ["head", "lora"], "seeds": 2, "workers": 2,
            "pet": {"backbones": ["base"], "shots": [0, 2]}}  # fmt: skip


@pytest.fixture(scope="module")
def project(tiny, tmp_path_factory):
    """A scratch project: the tiny backbone as base, another seed of it as dapt, the tiny task."""
    backbone, task = tiny
    root = tmp_path_factory.mktemp("fanout")
    shutil.copytree(backbone, root / "models" / "base")
    build_backbone(root / "models" / "dapt", seed=1)
    shutil.copytree(Path(task["train"]).parent, root / "raw")
    task_dir = str(root / "raw")
    tasks = {s: {"path": f"raw/{s}.jsonl"} for s in ("train", "dev", "test")}
    pet = {"template": "{text}类别{mask}", "label_words": WORDS}
    section = domain_section(task=tasks | {"pet": pet})
    params = {"profile": "demo", "domain": section, "finetune": FINETUNE, "evaluate": EVALUATE}
    (root / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return root, task_dir


def dapt(root: Path, task_dir: str, out: str, *extra: str) -> int:
    args = ["finetune", "--params", str(root / "params.yaml"), "--task", task_dir, "--no-mlflow"]
    args += ["--no-validated-check", "--out", str(root / out), "--metrics", str(root / f"{out}.json")]  # fmt: skip
    return main([*args, *extra])


def plan(root: Path, task_dir: str, out: str) -> list[dict]:
    assert dapt(root, task_dir, out, "--plan", str(root / "plan.json")) == 0
    return json.loads((root / "plan.json").read_text(encoding="utf-8"))["units"]


def table(folder: Path) -> tuple:
    """What compare reports from a finetune output: both tables, the metrics and the choice."""
    c = combos(matrix.load(folder))
    tables = tuple(markdown_table(c, m) for m in ("macro_f1", "dev_macro_f1", "accuracy"))
    return (*tables, pet_table(c), metrics_dict(c, None))


def test_fanned_out_units_give_the_single_stage_table(project, monkeypatch, capsys):
    """The single stage runs its units on 2 spawned processes (evaluate.workers: 2), a unit task
    alone in its process (here: in-process): one torch thread each either way."""
    root, task_dir = project
    monkeypatch.chdir(root)
    assert dapt(root, task_dir, "single") == 0

    units = plan(root, task_dir, "fan")
    assert len(units) == 2 * 2 * 2 + 1 + 2  # candidates x strategies x seeds, PET 0-shot + 2 seeds
    assert "base/pet-0shot/seed0" in [u["id"] for u in units]
    assert not any(u["done"] for u in units)
    for u in units:  # one task per unit
        assert dapt(root, task_dir, "fan", "--unit", u["id"]) == 0
    assert all(u["done"] for u in plan(root, task_dir, "fan"))
    assert not (root / "fan").exists()  # units are staged, not the output DVC tracks

    capsys.readouterr()
    assert dapt(root, task_dir, "fan") == 0  # the stage: gathers, trains nothing
    log = capsys.readouterr().out
    assert f"{len(units)} of {len(units)} runs taken from" in log
    assert "fine-tuning runs on" not in log
    assert not (root / "fan.units").exists()

    assert table(root / "fan") == table(root / "single")
    single, fan = matrix.load(root / "single"), matrix.load(root / "fan")
    assert {u: r.predictions for u, r in fan.items()} == {u: r.predictions for u, r in single.items()}  # fmt: skip
    # the runs learned and differ: equal tables are not equal constants
    assert len({tuple(r.predictions) for r in single.values()}) > 3
    assert max(r.dev_macro_f1 for r in single.values()) > 0.25  # a constant guess: 0.17
    kept = sorted(p.parent.relative_to(root / "single") for p in (root / "single").glob("*/*/*/model"))  # fmt: skip
    assert sorted(p.parent.relative_to(root / "fan") for p in (root / "fan").glob("*/*/*/model")) == kept  # fmt: skip
    assert len(kept) == 4  # the dev-best seed of each classifier combination only
    for name in ("plan.json", "skipped.json"):
        assert (root / "fan" / name).read_bytes() == (root / "single" / name).read_bytes()


def test_a_staged_unit_from_other_params_or_interrupted_runs_again(project, monkeypatch):
    root, task_dir = project
    monkeypatch.chdir(root)
    unit = "dapt/head/seed1"
    assert dapt(root, task_dir, "again", "--unit", unit) == 0
    assert next(u for u in plan(root, task_dir, "again") if u["id"] == unit)["done"]

    staged = root / "again.units" / unit
    (staged / "unit.json").unlink()  # killed after the result, before the marker
    assert not next(u for u in plan(root, task_dir, "again") if u["id"] == unit)["done"]

    assert dapt(root, task_dir, "again", "--unit", unit) == 0
    original = (root / "params.yaml").read_text(encoding="utf-8")
    try:
        changed = yaml.safe_load(original)
        changed["finetune"]["epochs"] = 3.0
        (root / "params.yaml").write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")  # fmt: skip
        assert not next(u for u in plan(root, task_dir, "again") if u["id"] == unit)["done"]
    finally:
        (root / "params.yaml").write_text(original, encoding="utf-8")
    assert dapt(root, task_dir, "again", "--unit", "base/nonsense/seed0") == 2
    shutil.rmtree(root / "again.units")
