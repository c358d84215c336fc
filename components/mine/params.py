"""Typed parameters of the mining stage (params.yaml section ``mine``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from components.config import param

METHODS = ("dsir", "moore_lewis", "knn")


@dataclass
class HygieneParams:
    """Quality filters and deduplication, applied before scoring decides anything."""

    min_chars: int = param(10, ge=1, help="too_short below this many characters")
    max_chars: int = param(100_000, ge=1, help="too_long above this many characters")
    max_symbol_ratio: float = param(
        0.3, ge=0, le=1, help="too_many_symbols: share of non-letter, non-digit, non-space chars"
    )
    max_dup_line_ratio: float = param(
        0.3, ge=0, le=1, help="repeated_lines: share of characters in lines seen before in the doc"
    )
    max_dup_ngram_ratio: float = param(
        0.5, ge=0, le=1, help="repeated_ngrams: share of character n-grams seen before in the doc"
    )
    dup_ngram_size: int = param(10, ge=2, le=50)
    min_script_ratio: float = param(
        0.5, ge=0, le=1, help="wrong_script: Han (zh) or Latin (en) share of letters below this"
    )
    exact_dedup: bool = param(
        True, help="exact_dup: same text (whitespace-insensitive) seen before"
    )
    near_dedup: bool = param(True, help="near_dup: MinHash LSH Jaccard >= near_dup_threshold")
    shingle_size: int = param(5, ge=1, le=20, help="character shingle length for MinHash")
    num_perm: int = param(64, ge=16, le=1024, help="MinHash signature length (bins)")
    lsh_recall_weight: float = param(
        0.8, gt=0, lt=1, help="LSH banding weight on missed near duplicates vs extra candidates"
    )
    near_dup_threshold: float = param(0.7, gt=0, lt=1, help="Jaccard similarity of near duplicates")
    dedup_max_docs: int = param(
        1_000_000, ge=0, help="clean documents remembered for dedup (~4.5 KB each); 0 = all"
    )

    def check(self) -> list[str]:
        if self.max_chars < self.min_chars:
            return ["max_chars: must be >= min_chars"]
        return []


@dataclass
class DSIRParams:
    orders: list[int] = param([1, 2], help="character n-gram orders hashed into one space")
    n_buckets_log2: int = param(20, ge=10, le=26)
    smoothing: float = param(1.0, gt=0, help="add-k smoothing of the pool distribution")
    prior: Literal["pool", "uniform"] = param(
        "pool",
        help="what the seed distribution is smoothed toward: the pool (Dirichlet prior, robust "
        "with small seeds) or uniform add-k (the original DSIR)",
    )
    prior_strength: float = param(
        100000.0, gt=0, help="pool prior: pseudo-count of n-grams the seed is smoothed with"
    )

    def check(self) -> list[str]:
        if not self.orders or any(not 1 <= n <= 8 for n in self.orders):
            return ["orders: give one or more orders between 1 and 8"]
        return []


@dataclass
class MooreLewisParams:
    order: int = param(3, ge=1, le=6, help="character n-gram language model order")
    n_buckets_log2: int = param(20, ge=10, le=26)
    alpha: float = param(2.0, gt=0, help="Dirichlet back-off strength")


@dataclass
class KNNParams:
    k: int = param(10, ge=1, help="neighbours averaged per pool document")
    orders: list[int] = param([1, 2], help="character n-gram orders of the TF-IDF features")
    n_buckets_log2: int = param(18, ge=10, le=24)
    vocab_size: int = param(32768, ge=16, help="most frequent seed features kept")
    dims: int = param(128, ge=2, le=1024, help="truncated-SVD dimensions")
    max_seed_docs: int = param(20000, ge=10, help="seed documents kept as neighbours (sampled)")

    def check(self) -> list[str]:
        if not self.orders or any(not 1 <= n <= 8 for n in self.orders):
            return ["orders: give one or more orders between 1 and 8"]
        return []


@dataclass
class MineParams:
    method: Literal["dsir", "moore_lewis", "knn"] = param(
        "dsir", help="scorer; dsir measured best (docs/benchmarks.md)"
    )
    lang: Literal["zh", "en"] = param(
        "zh", help="expected script of seed and pool", derived="domain.lang"
    )
    # Budget: exactly one of top_n (> 0), fraction (> 0) or threshold (not null).
    top_n: int = param(0, ge=0, help="keep the N best-scoring clean pool documents")
    fraction: float = param(0.0, ge=0, le=1, help="keep this share of the clean pool documents")
    threshold: float | None = param(None, help="keep documents scoring at least this")
    hygiene: HygieneParams = field(default_factory=HygieneParams)
    dsir: DSIRParams = field(default_factory=DSIRParams)
    moore_lewis: MooreLewisParams = field(default_factory=MooreLewisParams)
    knn: KNNParams = field(default_factory=KNNParams)
    workers: int = param(0, ge=0, help="worker processes; 0 = all cores")
    shard_docs: int = param(2000, ge=1, help="documents per shard (unit of parallel work)")
    shard_mb: float = param(4.0, gt=0, help="a shard is cut early at this many MB of text")
    allow_script_mismatch: bool = param(
        False, help="warn instead of failing when seed and pool are in different scripts"
    )
    random_seed: int = param(0)

    def check(self) -> list[str]:
        set_ = [self.top_n > 0, self.fraction > 0, self.threshold is not None]
        if sum(set_) != 1:
            return ["top_n: set exactly one budget: top_n > 0, fraction > 0 or threshold"]
        return []
