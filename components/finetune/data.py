"""Labeled task data: JSONL splits + a label file, turned into (texts, label ids)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from components.data import read_documents
from components.errors import InputError


@dataclass
class Split:
    texts: list[str]
    labels: np.ndarray  # int64 label ids

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx: np.ndarray) -> Split:
        return Split([self.texts[i] for i in idx], self.labels[idx])


def read_split(path: str | os.PathLike, labels: list[str]) -> Split:
    index = {x: i for i, x in enumerate(labels)}
    texts, ids = [], []
    for doc in read_documents(path, label_field="label", require_label=True):
        if doc.label not in index:
            raise InputError(
                str(path),
                f"row {doc.id!r} has label {doc.label!r}, which is not in the label set",
                "add the label to the label set file, or fix the row, and re-run ingest",
                line=doc.metadata.get("line"),
                field="label",
            )
        texts.append(doc.text)
        ids.append(index[doc.label])
    if not texts:
        raise InputError(str(path), "no labeled rows")
    return Split(texts, np.asarray(ids, dtype=np.int64))


def stratified_sample(split: Split, n: int, seed: int) -> Split:
    """At most ``n`` rows keeping class proportions (every class keeps at least one row)."""
    if n <= 0 or n >= len(split):
        return split
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    classes = np.unique(split.labels)
    for c in classes:
        rows = np.flatnonzero(split.labels == c)
        k = max(1, round(len(rows) * n / len(split)))
        keep.extend(rng.choice(rows, size=min(k, len(rows)), replace=False))
    return split.take(np.sort(np.asarray(keep)))


def few_shot(split: Split, shots: int, seed: int) -> Split:
    """``shots`` rows per class (fewer when a class has fewer)."""
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for c in np.unique(split.labels):
        rows = np.flatnonzero(split.labels == c)
        keep.extend(rng.choice(rows, size=min(shots, len(rows)), replace=False))
    return split.take(rng.permutation(np.asarray(keep)))


def budget_rows(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Row indices of the label-budget subset: ``per_class`` rows of each class (all of a class
    that has fewer), in the original order.

    Each class's rows are put in one seeded order that does not depend on ``per_class``, and the
    first ``per_class`` are taken: the 8-per-class subset is inside the 32 one (a curve point
    adds labels, it does not draw other ones). Only the labels and the seed decide it, so every
    backbone trains a seed on the very same rows (what keeps the comparison paired)."""
    keep: list[np.ndarray] = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        order = np.random.default_rng([seed, int(c)]).permutation(len(rows))
        keep.append(rows[order[:per_class]])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def budget_subset(split: Split, per_class: int, seed: int) -> Split:
    return split.take(budget_rows(split.labels, per_class, seed))


def auto_max_len(tokenizer, texts: list[str], percentile: float, cap: int) -> int:
    """Tokens per example from the task: the ``percentile`` of the texts' lengths with
    [CLS]/[SEP], rounded up to a multiple of 8, between 16 and ``cap`` (the model's positions)."""
    lengths = [len(x) + 2 for x in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    want = float(np.percentile(lengths, percentile)) if lengths else 16.0
    return int(min(cap, max(16, 8 * np.ceil(want / 8))))
