"""Synthetic per-seed predictions of a known quality, for gate and choice tests."""

from __future__ import annotations

import numpy as np

N, K = 600, 5


def labels(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, K, N)


def predictions(y: np.ndarray, accuracy: float, seed: int, model: str = "") -> list[int]:
    """Right with probability ``accuracy``, else a wrong class (each model and seed its own draw)."""
    rng = np.random.default_rng([seed, *model.encode()])
    wrong = (y + rng.integers(1, K, len(y))) % K
    return np.where(rng.random(len(y)) < accuracy, y, wrong).tolist()
