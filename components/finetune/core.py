"""Fine-tune one backbone with one strategy and one seed; early stopping on dev macro-F1.

Strategies (components.finetune.strategies says what each trains): full, head, frozen, bitfit,
and through peft lora, prompt_tuning, p_tuning, prefix_tuning; pet scores label words through
the masked-LM head (components.finetune.pet).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from tqdm import tqdm

from components.finetune.data import Split, stratified_sample
from components.finetune.params import PEFT_STRATEGIES, FinetuneParams
from components.modeling.backbone import load_tokenizer
from components.modeling.precision import autocast, autocast_dtype
from components.serving.loader import META_FILE


@dataclass
class RunResult:
    """One run. Test scores are reported; every choice (the seed kept, the combination
    registered) is made on the dev scores, which are measured on the whole dev split."""

    strategy: str
    seed: int
    accuracy: float  # test
    macro_f1: float  # test
    predictions: list[int]  # test
    dev_macro_f1: float
    dev_accuracy: float
    dev_predictions: list[int]
    early_stop_score: float  # best score on the early-stopping dev rows during training
    best_step: int
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def quiet_transformers() -> None:
    """Loading an MLM checkpoint into a classifier reports unused ``cls.*`` and new ``classifier``
    keys: expected here, so keep them (and weight-loading progress bars) out of user output."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    warnings.filterwarnings("ignore", category=UserWarning, module="peft")


def set_seed(seed: int) -> torch.Generator:
    import random

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def scores(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int) -> tuple[float, float]:
    labels = list(range(num_labels))
    return (
        float(accuracy_score(y_true, y_pred)),
        float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    )


def encode(tokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_len)["input_ids"]


def pick_device(p: FinetuneParams) -> torch.device:
    if p.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(p.device)


def collate(ids: list[list[int]], pad_id: int, device=None) -> dict[str, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    if device is not None and device.type != "cpu":
        return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
    return {"input_ids": input_ids, "attention_mask": mask}


def build_classifier(backbone: str | Path, strategy: str, labels: list[str], p: FinetuneParams):
    from components.finetune.pooling import classifier_class
    from components.finetune.strategies import apply_strategy

    model = classifier_class(backbone, p.pooling).from_pretrained(
        backbone,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={x: i for i, x in enumerate(labels)},
    )
    return apply_strategy(model, strategy, p)


def class_weights(labels: list[int], num_labels: int, kind: str) -> torch.Tensor | None:
    """Per-class loss weights, scaled so an average training example weighs 1 (the learning
    rate keeps its meaning). Classes absent from the training rows get weight 0."""
    if kind == "none":
        return None
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_labels).astype(float)
    power = 0.5 if kind == "inverse_sqrt" else 1.0
    w = np.where(counts > 0, 1.0 / np.maximum(counts, 1.0) ** power, 0.0)
    w *= counts.sum() / float((counts * w).sum())
    return torch.tensor(w, dtype=torch.float32)


def batches(n: int, size: int, gen: torch.Generator | None, lengths: list[int] | None = None):
    """Index batches, shuffled when ``gen`` is given. With ``lengths``, each window of 50
    shuffled batches is sorted by length before cutting, then the batch order is shuffled (as
    transformers' LengthGroupedSampler): short texts pad to short batches, which cut compute by
    about a third on cMedTC."""
    order = torch.randperm(n, generator=gen).tolist() if gen is not None else list(range(n))
    if lengths is None:
        for i in range(0, n, size):
            yield order[i : i + size]
        return
    window = size * 50
    chunks = []
    for w in range(0, n, window):
        part = sorted(order[w : w + window], key=lambda i: lengths[i])
        chunks += [part[i : i + size] for i in range(0, len(part), size)]
    perm = torch.randperm(len(chunks), generator=gen).tolist() if gen is not None else None
    yield from (chunks[i] for i in perm) if perm is not None else chunks


@torch.no_grad()
def predict_logits(
    model, ids: list[list[int]], pad_id: int, batch_size: int, amp: torch.dtype | None = None
) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    out = []
    # Sorting by length keeps padding (and time) low; the order is restored below.
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for chunk in batches(len(order), batch_size * 2, None):
        rows = [ids[order[i]] for i in chunk]
        with autocast(device, amp):
            logits = model(**collate(rows, pad_id, device)).logits
        out.append(logits.float().cpu().numpy())
    logits = np.concatenate(out)
    restored = np.empty_like(logits)
    restored[order] = logits
    return restored


class EarlyStopper:
    """Keeps a copy of the trainable weights at the best dev score; stops after ``patience``."""

    def __init__(self, model, patience: int) -> None:
        self.model, self.patience = model, patience
        self.best, self.best_step, self.bad, self.state = -math.inf, 0, 0, None

    def update(self, score: float, step: int) -> bool:
        if score > self.best:
            self.best, self.best_step, self.bad = score, step, 0
            self.state = {
                n: t.detach().clone() for n, t in self.model.named_parameters() if t.requires_grad
            }
        else:
            self.bad += 1
        return self.bad >= self.patience

    def restore(self) -> None:
        if self.state is not None:
            params = dict(self.model.named_parameters())
            with torch.no_grad():
                for n, t in self.state.items():
                    params[n].copy_(t)


def param_groups(model, lr: float, head_scale: float) -> list[dict[str, Any]]:
    """Trainable weights in two optimizer groups: the classifier and BERT's pooler (absent from
    masked-LM checkpoints) start from random weights and may take a ``head_scale`` larger step
    (default 1; docs/finetune.md records what 10x did)."""
    new, rest = [], []
    for name, t in model.named_parameters():
        if t.requires_grad:
            (new if "classifier" in name or "pooler" in name else rest).append(t)
    groups = [{"params": rest, "lr": lr}, {"params": new, "lr": lr * head_scale}]
    return [g for g in groups if g["params"]]


def train_loop(
    model,
    loss_fn,
    n_train: int,
    dev_score,
    p: FinetuneParams,
    lr: float,
    epochs: float,
    gen: torch.Generator,
    desc: str,
    lengths: list[int] | None = None,
) -> tuple[EarlyStopper, int, list[dict[str, float]]]:
    """AdamW + linear warmup/decay; ``loss_fn(batch_indices)`` and ``dev_score()`` are the task."""
    trainable = [t for t in model.parameters() if t.requires_grad]
    # fused: one kernel over all tensors instead of a Python loop (docs/benchmarks.md)
    fused = next(model.parameters()).device.type in ("cpu", "cuda")
    opt = torch.optim.AdamW(
        param_groups(model, lr, p.head_lr_scale), weight_decay=p.weight_decay, fused=fused
    )
    per_epoch = math.ceil(n_train / p.batch_size)
    total = max(1, math.ceil(per_epoch * epochs))
    if p.max_steps:
        total = min(total, p.max_steps)
    # Evaluations follow the data (a share of a pass), not a step count sized for one task.
    eval_every = max(1, math.ceil(per_epoch / p.evals_per_epoch))
    warm = int(total * p.warmup_ratio)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (total - s) / (total - warm)),
    )
    stopper = EarlyStopper(model, p.patience)
    history: list[dict[str, float]] = []
    step, stop = 0, False
    bar = tqdm(total=total, desc=desc, unit="step", mininterval=5, leave=False)
    while step < total and not stop:
        for chunk in batches(n_train, p.batch_size, gen, lengths):
            model.train()
            loss = loss_fn(chunk)
            loss.backward()
            if p.clip_grad:
                torch.nn.utils.clip_grad_norm_(trainable, p.clip_grad)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            if step % eval_every == 0 or step == total:
                score = dev_score()
                history.append({"step": step, "loss": loss.item(), "dev_macro_f1": score})
                stop = stopper.update(score, step)
            if stop or step >= total:
                break
    bar.close()
    stopper.restore()
    return stopper, step, history


def run_classifier(
    backbone: str | Path,
    strategy: str,
    labels: list[str],
    train: Split,
    stop_dev: Split,
    dev: Split,
    test: Split,
    p: FinetuneParams,
    seed: int,
    out: str | Path | None = None,
) -> RunResult:
    """A classification head (every strategy but pet): train on ``train`` (subsampled per
    params), early-stop on ``stop_dev``, score ``dev`` and ``test``. ``out`` (optional) receives
    the best checkpoint. Called through components.finetune.run.finetune."""
    start = time.perf_counter()
    gen = set_seed(seed)
    train = stratified_sample(train, p.max_train_rows, seed)
    tokenizer = load_tokenizer(backbone, checkpoint=True)
    device = pick_device(p)
    model = build_classifier(backbone, strategy, labels, p).to(device)
    pad = tokenizer.pad_token_id
    tr_ids, stop_ids, dev_ids, te_ids = (
        encode(tokenizer, s.texts, p.max_len) for s in (train, stop_dev, dev, test)
    )
    y = torch.as_tensor(train.labels).to(device)
    amp = autocast_dtype(p.precision, device)
    weight = class_weights(train.labels, len(labels), p.class_weight)
    weight = weight.to(device) if weight is not None else None

    def loss_fn(chunk: list[int]) -> torch.Tensor:
        batch = collate([tr_ids[i] for i in chunk], pad, device)
        with autocast(device, amp):
            logits = model(**batch).logits
        return torch.nn.functional.cross_entropy(logits.float(), y[chunk], weight=weight)

    def dev_score() -> float:
        pred = predict_logits(model, stop_ids, pad, p.batch_size, amp).argmax(1)
        return scores(stop_dev.labels, pred, len(labels))[1]

    stopper, steps, history = train_loop(
        model,
        loss_fn,
        len(train),
        dev_score,
        p,
        p.lr[strategy],
        p.epochs,
        gen,
        strategy,
        [len(x) for x in tr_ids] if p.group_by_length else None,
    )
    pred = predict_logits(model, te_ids, pad, p.batch_size, amp).argmax(1)
    dev_pred = predict_logits(model, dev_ids, pad, p.batch_size, amp).argmax(1)
    acc, f1 = scores(test.labels, pred, len(labels))
    dev_acc, dev_f1 = scores(dev.labels, dev_pred, len(labels))
    if out is not None:
        save_classifier(model, tokenizer, strategy, Path(out), p, backbone, labels)
    return RunResult(
        strategy, seed, acc, f1, pred.tolist(), dev_f1, dev_acc, dev_pred.tolist(), stopper.best,
        stopper.best_step, steps, time.perf_counter() - start, history,
    )  # fmt: skip


def save_classifier(model, tokenizer, strategy, out: Path, p, backbone, labels) -> None:
    """full/head/frozen/bitfit: a plain checkpoint. lora: ``adapter/`` (+ merged checkpoint when
    ``lora.merge``). Soft prompts (prompt_tuning, p_tuning, prefix_tuning): the untouched backbone
    + ``adapter/`` (the prompts or prefixes and the trained head live in the adapter; they cannot
    be merged), so the folder is self-contained."""
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "strategy": strategy,
        "backbone": str(backbone),
        "labels": labels,
        "max_len": p.max_len,
        "pooling": p.pooling,
    }
    if strategy in PEFT_STRATEGIES:
        model.save_pretrained(out / "adapter")
        meta["adapter"] = "adapter"
        if strategy == "lora" and p.lora.merge:
            with contextlib.suppress(AttributeError):
                model = model.merge_and_unload()
            model.save_pretrained(out)
            meta["merged"] = True
        else:
            model.get_base_model().save_pretrained(out)
    else:
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
