"""Distil a classifier into a shallower student of the same width (DistilBERT's recipe).

The student keeps the teacher's tokenizer, embeddings, head and every other kept layer, so it
starts close to the teacher instead of from noise, and trains on the teacher's temperature-softened
outputs (KL, scaled by T^2 so its gradients keep their size as T changes) plus the hard labels.
Pure functions on models and tensors; the stage (stage.py) does files and the registry.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from components.distill.params import DistillParams
from components.finetune.core import (
    collate,
    encode,
    pick_device,
    predict_logits,
    scores,
    set_seed,
    train_loop,
)
from components.finetune.data import Split, stratified_sample
from components.finetune.params import FinetuneParams

UNLABELED = -100  # cross-entropy's ignore_index: a row with soft targets only
_LAYER = re.compile(r"^(.*\.layer\.)(\d+)(\..*)$")


def student_layers(teacher_layers: int, layers: int) -> list[int]:
    """Teacher layer indices the student copies: evenly spaced from the bottom, every other one
    for half depth (DistilBERT: 0, 2, ..., 10 of 12)."""
    k = layers or max(1, teacher_layers // 2)
    if not 1 <= k <= teacher_layers:
        raise ValueError(f"distill.layers: {k} is not between 1 and the teacher's {teacher_layers}")
    return [i * teacher_layers // k for i in range(k)]


def plain_state(model) -> dict[str, torch.Tensor]:
    """The teacher's weights without peft wrappers: a soft-prompt teacher's head lives in
    ``modules_to_save`` (the trained copy), its backbone is untouched."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    state = {}
    for k, v in base.state_dict().items():
        if ".original_module." in k:
            continue
        state[k.replace(".modules_to_save.default.", ".")] = v
    return base, state


def build_student(teacher, layers: list[int]):
    """A copy of the teacher's architecture with only ``layers`` of its encoder, initialised
    from those layers (renumbered), the embeddings, the pooler and the head."""
    base, state = plain_state(teacher)
    cfg = copy.deepcopy(base.config)
    cfg.num_hidden_layers = len(layers)
    student = type(base)(cfg)
    new = {}
    for k, v in state.items():
        m = _LAYER.match(k)
        if m is None:
            new[k] = v.clone()
        elif int(m.group(2)) in layers:
            new[f"{m.group(1)}{layers.index(int(m.group(2)))}{m.group(3)}"] = v.clone()
    student.load_state_dict(new, strict=True)
    return student


def distill_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    soft_weight: float,
    hard_weight: float,
) -> torch.Tensor:
    """soft_weight * T^2 * KL(teacher_T || student_T) + hard_weight * CE(student, labels);
    rows labelled UNLABELED count in the soft term only."""
    t = temperature
    soft = F.kl_div(
        F.log_softmax(student / t, -1),
        F.log_softmax(teacher / t, -1),
        log_target=True,
        reduction="batchmean",
    ) * (t * t)
    if hard_weight and bool((labels != UNLABELED).any()):
        hard = F.cross_entropy(student, labels, ignore_index=UNLABELED)
    else:
        hard = student.sum() * 0.0
    return soft_weight * soft + hard_weight * hard


@dataclass
class StudentRun:
    seed: int
    macro_f1: float  # test
    accuracy: float  # test
    dev_macro_f1: float
    predictions: list[int]
    steps: int
    seconds: float


def recipe(ft: FinetuneParams, p: DistillParams) -> FinetuneParams:
    """finetune's recipe with the distillation budget; the head is copied, not new."""
    return dataclasses.replace(
        ft, batch_size=p.batch_size, epochs=p.epochs, max_steps=p.max_steps, head_lr_scale=1.0
    )


def train_student(
    teacher,
    tokenizer,
    layers: list[int],
    train: Split,
    unlabeled: list[str],
    stop_dev: Split,
    test: Split,
    ft: FinetuneParams,
    p: DistillParams,
    seed: int,
):
    """(student, StudentRun): the teacher's soft targets on ``train`` (+ ``unlabeled``), early
    stopping on ``stop_dev`` macro-F1, scored on ``test``."""
    start = time.perf_counter()
    gen = set_seed(seed)
    rp = recipe(ft, p)
    device = pick_device(ft)
    train = stratified_sample(train, p.max_train_rows, seed)
    pad = tokenizer.pad_token_id
    ids = encode(tokenizer, list(train.texts) + list(unlabeled), ft.max_len)
    labels = list(train.labels) + [UNLABELED] * len(unlabeled)
    teacher = teacher.to(device)
    soft = torch.as_tensor(predict_logits(teacher, ids, pad, rp.batch_size)).to(device)
    student = build_student(teacher, layers).to(device)
    y = torch.as_tensor(labels).to(device)
    stop_ids, te_ids = (
        encode(tokenizer, stop_dev.texts, ft.max_len),
        encode(tokenizer, test.texts, ft.max_len),
    )
    n = soft.shape[1]  # the teacher's labels

    def loss_fn(chunk: list[int]) -> torch.Tensor:
        logits = student(**collate([ids[i] for i in chunk], pad, device)).logits
        return distill_loss(
            logits.float(), soft[chunk], y[chunk], p.temperature, p.soft_weight, p.hard_weight
        )

    def dev_score() -> float:
        pred = predict_logits(student, stop_ids, pad, rp.batch_size).argmax(1)
        return scores(np.asarray(stop_dev.labels), pred, n)[1]

    stopper, steps, _ = train_loop(
        student, loss_fn, len(ids), dev_score, rp, p.lr, p.epochs, gen, f"distill seed {seed}",
        [len(x) for x in ids] if ft.group_by_length else None,
    )  # fmt: skip
    pred = predict_logits(student, te_ids, pad, rp.batch_size).argmax(1)
    acc, f1 = scores(np.asarray(test.labels), pred, n)
    run = StudentRun(seed, f1, acc, stopper.best, pred.tolist(), steps, time.perf_counter() - start)
    return student, run


def evaluate(model, tokenizer, split: Split, max_len: int, num_labels: int, batch: int = 64):
    """(accuracy, macro-F1, predictions) of ``model`` on ``split``."""
    ids = encode(tokenizer, split.texts, max_len)
    pred = predict_logits(model, ids, tokenizer.pad_token_id, batch).argmax(1)
    acc, f1 = scores(np.asarray(split.labels), pred, num_labels)
    return acc, f1, pred.tolist()


@torch.no_grad()
def latency(model, tokenizer, texts: list[str], max_len: int, batch: int, repeats: int = 1):
    """Per-call seconds of ``model`` on ``texts`` cut into batches of ``batch`` (CPU or wherever
    the model lives), tokenization included: what a request costs."""
    model.eval()
    device = next(model.parameters()).device
    times = []
    for _ in range(repeats):
        for i in range(0, len(texts), batch):
            chunk = texts[i : i + batch]
            t0 = time.perf_counter()
            enc = tokenizer(
                chunk, truncation=True, max_length=max_len, padding=True, return_tensors="pt"
            )
            model(
                **{k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            )
            times.append(time.perf_counter() - t0)
    return np.asarray(times)


def size(model, folder: Path | None = None) -> dict[str, float]:
    """Parameter count and, for a saved folder, the bytes of its safetensors weights."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    out: dict[str, float] = {"parameters": int(sum(t.numel() for t in model.parameters()))}
    out["encoder_layers"] = int(base.config.num_hidden_layers)
    if folder is not None:
        out["file_bytes"] = int(sum(f.stat().st_size for f in Path(folder).rglob("*.safetensors")))
    return out
