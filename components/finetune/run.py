"""One fine-tuning run, whatever the strategy: the shared prologue, then the classification-head
path (components.finetune.core) or label words through the masked-LM head (components.finetune.pet).

Kept apart from both so that pet can reuse core's training loop without core importing pet back.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from components.finetune.core import RunResult, quiet_transformers, run_classifier
from components.finetune.data import Split, stratified_sample
from components.finetune.params import FinetuneParams
from components.finetune.pet import run_pet


def finetune(
    backbone: str | Path,
    strategy: str,
    labels: list[str],
    train: Split,
    dev: Split,
    test: Split,
    p: FinetuneParams,
    seed: int,
    out: str | Path | None = None,
    shots: int | None = None,
) -> RunResult:
    """Train on ``train`` (subsampled per params), early-stop on ``dev``, score ``test``.

    ``out`` (optional) receives the best checkpoint. For ``pet``, ``shots`` = 0 means zero-shot.
    """
    quiet_transformers()
    if p.threads:
        torch.set_num_threads(p.threads)
    start = time.perf_counter()
    if p.max_len < 8:
        raise ValueError("finetune: resolve max_len first (components.finetune.data.auto_max_len)")
    stop_dev = stratified_sample(dev, p.max_dev_rows, seed=0)  # same dev rows for every run
    if strategy == "pet":
        result = run_pet(backbone, labels, train, stop_dev, dev, test, p, seed, out, shots)
    else:
        result = run_classifier(
            backbone, strategy, labels, train, stop_dev, dev, test, p, seed, out
        )
    result.seconds = time.perf_counter() - start
    return result
