"""Pattern-verbalizer classification (PET) through the masked-LM head.

The template wraps the input around a slot of ``[MASK]`` tokens; each label has a verbalizer word,
and a label's score is the mean log-probability of its word's tokens at the slot. Words of different
token lengths get their own forward pass with as many masks as they have tokens. Zero-shot scores
the pretrained head as is; few-shot fine-tunes the whole masked LM with cross-entropy over the
label scores on ``shots`` examples per class.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from components.errors import ConfigError
from components.finetune.core import (
    META_FILE,
    RunResult,
    collate,
    pick_device,
    scores,
    set_seed,
    train_loop,
)
from components.finetune.data import Split, few_shot
from components.finetune.params import FinetuneParams
from components.modeling.backbone import load_tokenizer, mlm_head
from components.modeling.precision import autocast, autocast_dtype


def pet_words_problem(missing: list[str]) -> str:
    shown = ", ".join(repr(x) for x in missing[:5]) + (" ..." if len(missing) > 5 else "")
    return (
        f"domain.task.pet.label_words: no verbalizer word for {len(missing)} label(s): {shown}; "
        "give every label a word, or set evaluate.pet.backbones: [] to skip PET"
    )


class Verbalizer:
    def __init__(self, tokenizer, labels: list[str], p: FinetuneParams) -> None:
        missing = [x for x in labels if x not in p.pet.label_words]
        if missing:
            raise ConfigError(pet_words_problem(missing))
        self.tok, self.max_len = tokenizer, p.max_len
        self.words = [
            tokenizer(p.pet.label_words[x], add_special_tokens=False)["input_ids"] for x in labels
        ]
        for label, ids in zip(labels, self.words, strict=True):
            if not ids or tokenizer.unk_token_id in ids:
                raise ConfigError(
                    f"domain.task.pet.label_words.{label}: {p.pet.label_words[label]!r} is not in "
                    "the tokenizer's vocabulary: choose a word the base model knows"
                )
        # Template pieces around the two slots, tokenised once.
        parts = re.split(r"(\{text\}|\{mask\})", p.pet.template)
        self.parts = [
            x if x in ("{text}", "{mask}") else tokenizer(x, add_special_tokens=False)["input_ids"]
            for x in parts
            if x
        ]
        self.lengths = sorted({len(w) for w in self.words})

    def build(self, text_ids: list[int], n_mask: int) -> tuple[list[int], list[int]]:
        fixed = sum(len(x) for x in self.parts if isinstance(x, list)) + n_mask + 2
        text_ids = text_ids[: max(1, self.max_len - fixed)]
        ids, slot = [self.tok.cls_token_id], []
        for part in self.parts:
            if part == "{text}":
                ids += text_ids
            elif part == "{mask}":
                slot = list(range(len(ids), len(ids) + n_mask))
                ids += [self.tok.mask_token_id] * n_mask
            else:
                ids += part
        return [*ids, self.tok.sep_token_id], slot

    def label_scores(self, model, text_ids: list[list[int]], amp=None) -> torch.Tensor:
        """[batch, labels] mean log-probability of each label word at the slot.

        The vocabulary projection runs at the slot positions only: on every position it was
        most of the cost, and grew with the extended vocabulary."""
        device = next(model.parameters()).device
        out = torch.empty((len(text_ids), len(self.words)), device=device)
        head = mlm_head(model)
        for n in self.lengths:
            built = [self.build(t, n) for t in text_ids]
            batch = collate([b[0] for b in built], self.tok.pad_token_id, device)
            slots = torch.tensor([b[1] for b in built], device=device)  # [batch, n]
            rows = torch.arange(len(built), device=device).unsqueeze(1)
            with autocast(device, amp):
                hidden = model.base_model(**batch).last_hidden_state
                logits = head(hidden[rows, slots])  # [batch, n, vocab]
            logp = torch.log_softmax(logits.float(), dim=-1)
            for j, word in enumerate(self.words):
                if len(word) == n:
                    idx = torch.tensor(word, device=device)
                    out[:, j] = logp[:, torch.arange(n, device=device), idx].mean(1)
        return out


@torch.no_grad()
def _predict(model, verb: Verbalizer, ids: list[list[int]], batch_size: int, amp) -> np.ndarray:
    model.eval()
    preds = [
        verb.label_scores(model, ids[i : i + batch_size], amp).argmax(1).cpu().numpy()
        for i in range(0, len(ids), batch_size)
    ]
    return np.concatenate(preds)


def run_pet(
    backbone, labels: list[str], train: Split, stop_dev: Split, dev: Split, test: Split,
    p: FinetuneParams, seed: int, out, shots: int | None,
) -> RunResult:  # fmt: skip
    from transformers import AutoModelForMaskedLM

    gen = set_seed(seed)
    tokenizer = load_tokenizer(backbone, checkpoint=True)
    device = pick_device(p)
    model = AutoModelForMaskedLM.from_pretrained(backbone).to(device)
    verb = Verbalizer(tokenizer, labels, p)
    amp = autocast_dtype(p.precision, device)
    enc = {
        name: tokenizer(s.texts, add_special_tokens=False, truncation=True, max_length=p.max_len)[
            "input_ids"
        ]
        for name, s in (("stop", stop_dev), ("dev", dev), ("test", test))
    }
    shots = p.pet.shots if shots is None else shots
    best_dev, best_step, steps, history = float("nan"), 0, 0, []
    if shots > 0:
        few = few_shot(train, shots, seed)
        few_ids = tokenizer(few.texts, add_special_tokens=False)["input_ids"]
        y = torch.as_tensor(few.labels).to(device)

        def loss_fn(chunk: list[int]) -> torch.Tensor:
            logits = verb.label_scores(model, [few_ids[i] for i in chunk], amp)
            return torch.nn.functional.cross_entropy(logits, y[chunk])

        def dev_score() -> float:
            pred = _predict(model, verb, enc["stop"], p.batch_size, amp)
            return scores(stop_dev.labels, pred, len(labels))[1]

        stopper, steps, history = train_loop(
            model, loss_fn, len(few), dev_score, p, p.lr["pet"], p.pet.epochs, gen, "pet"
        )
        best_dev, best_step = stopper.best, stopper.best_step
    pred = _predict(model, verb, enc["test"], p.batch_size, amp)
    dev_pred = _predict(model, verb, enc["dev"], p.batch_size, amp)
    acc, f1 = scores(test.labels, pred, len(labels))
    dev_acc, dev_f1 = scores(dev.labels, dev_pred, len(labels))
    if out is not None:
        out = Path(out)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        meta = {
            "strategy": "pet",
            "backbone": str(backbone),
            "labels": labels,
            "max_len": p.max_len,
            "shots": shots,
            "template": p.pet.template,
            "label_words": {x: p.pet.label_words[x] for x in labels},
        }
        (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    return RunResult(
        "pet", seed, acc, f1, pred.tolist(), dev_f1, dev_acc, dev_pred.tolist(), best_dev,
        best_step, steps, 0.0, history,
    )  # fmt: skip
