"""End to end on a scratch DVC project: finetune -> compare -> register -> `dapt lineage`, then one raw input
changes, and the new version's lineage differs exactly along that input's chain."""

import hashlib
import json
import subprocess

import mlflow
import pytest
import yaml

from components.cli import main
from tests.conftest import tool_env
from tests.finetune.tiny import WORDS, build_backbone, write_task

NAME = "demo-classifier"
pytestmark = pytest.mark.slow


def sh(cwd, *cmd):
    subprocess.run(cmd, cwd=cwd, env=tool_env(), check=True, capture_output=True, text=True)


@pytest.fixture
def project(tiny, tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    write_task(proj / "raw/task")
    build_backbone(proj / "models/base", seed=0)
    build_backbone(proj / "models/dapt", seed=1)
    (proj / "raw/general.txt").write_text("一般的文本\n", encoding="utf-8")
    params = {
        "profile": "smoke",
        "domain": {
            "name": "demo",
            "lang": "zh",
            "inputs": "raw",
            "base_model": "models/base",
            "corpus": [],
            "general": [{"path": "raw/general.txt"}],
            "task": {
                "train": {"path": "raw/task/train.jsonl"},
                "test": {"path": "raw/task/test.jsonl"},
                "pet": {"template": "{text}。类别：{mask}", "label_words": WORDS},
            },
        },
        "tracking": {
            "mlflow_uri": "sqlite:///.mlflow/mlflow.db",
            "mlflow_artifacts": ".mlflow/artifacts",
        },
        "finetune": {
            "threads": 1,
            "epochs": 1.0,
            "batch_size": 16,
            "evals_per_epoch": 2,
            "max_len": 32,
        },
        "evaluate": {
            "candidates": ["base", "dapt"],
            "control": "",
            "strategies": ["full"],
            "seeds": 2,
            "pet": {"backbones": ["base"], "shots": [0]},
            "gate": {"bootstrap_samples": 200},
        },
    }
    (proj / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    stages = {
        "prepare": {
            "cmd": "mkdir -p data/task && cp raw/task/* data/task/",
            "deps": ["raw/task"],
            "outs": ["data/task"],
        },
        "register": {"cmd": "dapt register", "deps": ["raw/recipe.txt", "data/task"]},
    }
    (proj / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    # a direct input of the registering stage, which has no dvc.lock entry while it runs
    (proj / "raw/recipe.txt").write_text("code or raw data the register stage reads\n")
    (proj / "metrics").mkdir()
    (proj / "metrics/decontaminate.json").write_text('{"sources": {}, "eval_texts": {}}')
    sh(proj, "git", "init", "-q")
    sh(proj, "dvc", "init", "-q")
    sh(proj, "dvc", "repro", "-q", "prepare")
    monkeypatch.chdir(proj)
    for var in ("MLFLOW_TRACKING_URI", "DAPT_PARENT_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    yield proj
    mlflow.set_tracking_uri(None)


def evaluate() -> int:
    """finetune -> compare -> register, as the DVC stages chain them."""
    task = ["--task", "data/task"]
    for argv in (
        ["finetune", *task, "--no-validated-check", "--out", "models/finetune"],
        ["compare", *task, "--runs", "models/finetune", "--shape", "none.json"],
        ["register", *task, "--runs", "models/finetune"],
    ):
        code = main(argv)
        if code:
            return code
    return 0


def locked(proj, stage, path):
    lock = yaml.safe_load((proj / "dvc.lock").read_text())["stages"][stage]
    return next(e["md5"] for e in lock["deps"] + lock.get("outs", []) if e["path"] == path)


def test_lineage_names_dvc_lock_hashes_and_follows_a_changed_raw_input(project, capsys):
    assert evaluate() == 0
    out_md5, raw_md5 = (
        locked(project, "prepare", "data/task"),
        locked(project, "prepare", "raw/task"),
    )
    gate = json.loads((project / "reports/gate.json").read_text())
    assert gate["registered"] and gate["version"] == "1"
    assert gate["comparisons"][0]["reference"] == "base/full" or gate["candidate"] == "base/full"
    assert (project / "reports/evaluation.md").read_text().count("±") >= 2
    assert json.loads((project / "metrics/evaluate.json").read_text())["base/full"]["seeds"] == 2

    capsys.readouterr()
    assert main(["lineage", f"models:/{NAME}/1"]) == 0
    tree = capsys.readouterr().out
    assert f"data/task  md5={out_md5}  <- stage prepare" in tree
    assert f"raw/task  md5={raw_md5}" in tree
    assert "git commit" in tree and "validation report" in tree

    with open(project / "raw/task/train.jsonl", "a", encoding="utf-8") as f:
        f.write('{"id": "new", "text": "新增的高血压患者", "label": "Disease"}\n')
    sh(project, "dvc", "repro", "-q", "prepare")
    assert evaluate() == 0

    client = mlflow.MlflowClient()
    v1, v2 = (client.get_model_version(NAME, v).tags for v in ("1", "2"))
    keys = {k for k in v1.keys() | v2.keys() if k.startswith("dvc:")}
    changed = {k for k in keys if v1.get(k) != v2.get(k)}
    recipe = hashlib.md5((project / "raw/recipe.txt").read_bytes()).hexdigest()
    assert v1["dvc:raw/recipe.txt"] == v2["dvc:raw/recipe.txt"] == recipe
    assert changed == {"dvc:raw/task", "dvc:data/task", "dvc:data/task/train.jsonl"}
    assert v1["dvc:data/task/test.jsonl"] == v2["dvc:data/task/test.jsonl"]

    capsys.readouterr()
    assert main(["lineage", "--data", "data/task"]) == 0
    listing = capsys.readouterr().out
    assert f"{NAME} v2" in listing.split("other versions")[0]
    assert f"{NAME} v1 used {out_md5}" in listing

    # parent/child runs: one child per fine-tuning run under each finetune stage run
    runs = mlflow.search_runs(
        experiment_names=["demo-adaptation"],
        filter_string="tags.stage = 'finetune'",
        output_format="list",
    )
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 2 and len(children) == 2 * 2 + 1  # 2 candidates x 2 seeds + pet


def test_a_dvc_versioned_folder_inside_a_raw_input_is_named_only_if_the_stage_read_it(tmp_path):
    """corpus_handoff's deliveries live under domain.inputs as their own .dvc-tracked folder: the
    lineage names that folder's hash, unless it changed after the consuming stage ran."""
    from components.evaluate.lineage import flatten, render, stage_lineage

    (tmp_path / "raw/deliveries").mkdir(parents=True)
    (tmp_path / "raw/a.txt").write_text("a\n")
    (tmp_path / "raw/deliveries/b.txt").write_text("b\n")
    stages = {
        "use": {"cmd": "cat raw/a.txt > out.txt", "deps": ["raw"], "outs": ["out.txt"]},
        "final": {"cmd": "cp out.txt final.txt", "deps": ["out.txt"], "outs": ["final.txt"]},
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    sh(tmp_path, "git", "init", "-q")
    sh(tmp_path, "dvc", "init", "-q")
    sh(tmp_path, "dvc", "add", "-q", "raw/deliveries")
    sh(tmp_path, "dvc", "repro", "-q")
    delivered = yaml.safe_load((tmp_path / "raw/deliveries.dvc").read_text())["outs"][0]["md5"]

    tree = stage_lineage(tmp_path, "final")
    assert flatten(tree)["raw/deliveries"] == delivered
    assert "raw/deliveries.dvc" in render(tree, "m")

    (tmp_path / "raw/deliveries/c.txt").write_text("c\n")  # delivered after `use` ran
    sh(tmp_path, "dvc", "add", "-q", "raw/deliveries")
    tree = stage_lineage(tmp_path, "final")
    assert "raw/deliveries" not in flatten(tree)
    assert "changed since stage use ran" in render(tree, "m")
