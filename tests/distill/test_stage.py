"""The distill stage's teacher policy, gate and skipped shape; one tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.data.skip import skipped_reason
from components.distill.params import DistillParams
from components.distill.stage import Paths, Teacher, choose_teacher, decide, run_stage
from components.domain import DomainParams
from components.finetune.params import FinetuneParams
from tests.conftest import domain_section


def _domain(**over) -> DomainParams:
    from components.config import build

    return build(DomainParams, domain_section(**over), "domain")


def test_a_student_over_the_max_loss_is_not_registered():
    refused = decide(0.80, [0.77, 0.78], 0.02, "champion")  # loses 2.5 points
    assert (refused.promote, refused.alias) == (False, "-")
    assert refused.reason.startswith("not registered")
    within = decide(0.80, [0.79, 0.785], 0.02, "champion")
    assert (within.promote, within.alias) == (True, "champion")
    # within the margin, but its teacher is no champion: a challenger at most
    assert decide(0.80, [0.80], 0.02, "challenger").alias == "challenger"


def test_the_teacher_is_the_promoted_model_else_the_champion_else_the_candidate():
    cls = Path("models/classifier")
    gate = {
        "candidate": "dapt/full",
        "model": "m",
        "promote": True,
        "registered": True,
        "version": 3,
    }
    assert choose_teacher(gate, cls, ("1", Path("x"))) == Teacher(
        cls, "m", "3", "champion", "dapt/full v3, promoted to champion this run"
    )
    gate.update(promote=False, alias="challenger")
    t = choose_teacher(gate, cls, ("1", Path("champ")))
    assert (t.folder, t.version, t.role) == (Path("champ"), "1", "champion")
    t = choose_teacher(gate, cls, None)
    assert (t.folder, t.version, t.role) == (cls, "3", "challenger")
    t = choose_teacher({"candidate": "base/full", "promote": False}, cls, None)
    assert (t.version, t.role) == (None, "unregistered") and "challenger at most" in t.note


def test_a_project_without_a_task_skips_with_the_reason(tmp_path):
    paths = Paths(tmp_path / "gate.json", tmp_path / "c", tmp_path / "t", [], tmp_path / "out")
    report = run_stage(_domain(), FinetuneParams(), 1, DistillParams(), paths, None)
    assert report == {"skipped": True, "registered": False, "reason": report["reason"]}
    assert skipped_reason(tmp_path / "out") == "no labeled task: there is no classifier to distil"


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    from transformers import AutoTokenizer

    from components.finetune.core import build_classifier, save_classifier
    from tests.finetune.tiny import LABELS, build_backbone, write_task

    root = tmp_path_factory.mktemp("distill")
    backbone = build_backbone(root / "base")
    p = FinetuneParams(max_len=32, pooling="mean")
    model = build_classifier(backbone, "full", LABELS, p)
    save_classifier(
        model, AutoTokenizer.from_pretrained(backbone), "full", root / "cls", p, backbone, LABELS
    )
    write_task(root / "task", n_train=60, n_eval=24)
    return root


def test_the_student_is_trained_scored_and_saved_beside_its_teacher(tiny_teacher):
    from components.serving.loader import load_classifier

    root = tiny_teacher
    gate = {"candidate": "base/full", "promote": False, "alias": "challenger"}
    (root / "gate.json").write_text(json.dumps(gate), "utf-8")
    paths = Paths(root / "gate.json", root / "cls", root / "task", [], root / "student")
    task = {"train": {"path": "raw/train.jsonl"}, "test": {"path": "raw/test.jsonl"}}
    dp = DistillParams(max_steps=3, batch_size=16, latency_texts=4)
    ft = FinetuneParams(threads=1, max_dev_rows=12)
    report = run_stage(_domain(task=task), ft, 2, dp, paths, None)
    assert report["student"]["layers_from_teacher"] == [0] and report["registered"] is False
    assert len(report["student"]["seed_macro_f1"]) == 2 and report["student"]["steps"] == [3, 3]
    assert report["teacher"]["role"] == "unregistered"
    assert report["student"]["parameters"] < report["teacher"]["parameters"]
    model, _, meta = load_classifier(root / "student")
    assert model.config.num_hidden_layers == 1 and meta["strategy"] == "distill"
