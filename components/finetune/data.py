"""Labeled task data: JSONL splits + a label file, turned into (texts, label ids)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def read_labels(path: str | os.PathLike) -> list[str]:
    labels = [x.strip() for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
    if len(labels) < 2:
        raise InputError(str(path), "fewer than two labels", "list one label per line")
    return labels


def read_split(path: str | os.PathLike, labels: list[str]) -> Split:
    index = {x: i for i, x in enumerate(labels)}
    texts, ids = [], []
    for n, doc in enumerate(read_documents(path, label_field="label"), 1):
        if doc.label not in index:
            raise InputError(
                str(path), f"label {doc.label!r} is not in the label file", "re-run ingest", line=n
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
