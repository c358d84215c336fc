"""The pure per-shard step of mining, shared by both engines (``core`` drives it locally,
``ray_dedup`` on Ray): hygiene reasons, content hashes, MinHash signatures and scores of some
texts, and the record layout and reason codes the later steps read."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from components.mine.features import encode
from components.mine.filters import (
    DEDUP_REASONS,
    QUALITY_REASONS,
    minhash_signatures,
    quality_reasons,
    text_hashes,
)
from components.mine.params import MineParams
from components.mine.scoring import Model

REASONS: tuple[str, ...] = (*QUALITY_REASONS, *DEDUP_REASONS, "not_selected")
CODE = {r: i + 1 for i, r in enumerate(REASONS)}  # 0 = clean (eligible for selection)
RECORD = np.dtype([("score", "<f8"), ("reason", "u1")])


@dataclass
class MineModel:
    """Everything the pure per-shard function needs; picklable, fixed size."""

    params: MineParams
    scorer: Model


@dataclass
class ShardResult:
    quality: list[str | None]
    hashes: np.ndarray  # uint64
    sigs: np.ndarray | None  # uint32 (n, num_perm); None when near dedup is off
    has_sig: np.ndarray  # bool: the document is long enough for one shingle
    scores: np.ndarray  # float64
    n_bytes: int
    score_seconds: float


def score_texts(texts: list[str], model: MineModel) -> ShardResult:
    """Pure per-shard work: hygiene features and scores of some texts (no state, no I/O)."""
    p = model.params
    enc = encode(texts)
    quality = quality_reasons(texts, enc, p.hygiene, p.lang)
    sigs = None
    if p.hygiene.near_dedup:
        sigs = minhash_signatures(enc, p.hygiene.shingle_size, p.hygiene.num_perm)
    start = time.process_time()  # CPU time: wall time would count waiting on a busy machine
    scores = model.scorer.score(enc)
    return ShardResult(
        quality=quality,
        hashes=text_hashes(texts),
        sigs=sigs,
        has_sig=enc.lengths >= p.hygiene.shingle_size,
        scores=scores,
        n_bytes=sum(len(t.encode("utf-8")) for t in texts),
        score_seconds=time.process_time() - start,
    )


def score_batch(batch: dict[str, list], model: MineModel) -> dict[str, list]:
    """``score_texts`` for ``datasets.Dataset.map(batched=True, fn_kwargs={"model": m})``."""
    r = score_texts(batch["text"], model)
    out = {
        "quality_reason": r.quality,
        "content_hash": r.hashes.view(np.int64).tolist(),
        "score": r.scores.tolist(),
    }
    if r.sigs is not None:
        out["minhash"] = r.sigs.tolist()
    return out
