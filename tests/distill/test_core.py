"""The student's construction and loss (tiny models, about a second each)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from components.distill.core import UNLABELED, build_student, distill_loss, student_layers
from components.finetune.core import build_classifier
from components.finetune.params import FinetuneParams
from tests.finetune.tiny import LABELS, build_backbone


def test_layers_are_alternate_teacher_layers():
    assert student_layers(12, 0) == [0, 2, 4, 6, 8, 10]
    assert student_layers(12, 4) == [0, 3, 6, 9]
    assert student_layers(2, 0) == [0]
    with pytest.raises(ValueError):
        student_layers(2, 3)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    import dataclasses

    from transformers import BertConfig, BertForMaskedLM

    folder = build_backbone(tmp_path_factory.mktemp("tiny") / "base")
    # four layers, so "alternate" is visible: 0 and 2 kept, 1 and 3 dropped
    cfg = BertConfig.from_pretrained(folder)
    cfg = dataclasses.replace(cfg) if dataclasses.is_dataclass(cfg) else cfg
    cfg.num_hidden_layers = 4
    torch.manual_seed(1)
    BertForMaskedLM(cfg).save_pretrained(folder)
    return build_classifier(folder, "full", LABELS, FinetuneParams(max_len=32, pooling="mean"))


def test_student_copies_the_configured_layers_embeddings_and_head(teacher):
    student = build_student(teacher, [0, 2])
    assert student.config.num_hidden_layers == 2 and teacher.config.num_hidden_layers == 4
    t, s = teacher.state_dict(), student.state_dict()
    for si, ti in ((0, 0), (1, 2)):
        key = "bert.encoder.layer.{}.attention.self.query.weight"
        assert torch.equal(s[key.format(si)], t[key.format(ti)])
    assert not torch.equal(s[key.format(1)], t[key.format(1)])
    for k in ("bert.embeddings.word_embeddings.weight", "classifier.weight", "classifier.bias"):
        assert torch.equal(s[k], t[k])
    assert type(student) is type(teacher)  # the same pooling


def test_loss_combines_soft_and_hard_targets_as_configured():
    torch.manual_seed(0)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    y = torch.tensor([0, 2, UNLABELED, 1])
    T = 3.0
    kl = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T
    ce = F.cross_entropy(s[[0, 1, 3]], y[[0, 1, 3]])  # the unlabeled row: soft term only
    assert torch.isclose(distill_loss(s, t, y, T, 1.0, 0.0), kl)
    assert torch.isclose(distill_loss(s, t, y, T, 0.0, 1.0), ce)
    assert torch.isclose(distill_loss(s, t, y, T, 0.3, 0.7), 0.3 * kl + 0.7 * ce)
    assert distill_loss(t, t, torch.full((4,), UNLABELED), T, 1.0, 1.0).abs() < 1e-6
