"""Typed parameters of the new-word discovery stage (params.yaml section ``newwords``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.config import param

DEFAULT_STOP_CHARS = "的了是在和与及或也都就着过吗呢吧啊呀么这那我你他她它们很还要会能把被让给个一不有为到说对等而但如"
DEFAULT_STOP_WORDS_EN = [
    "a", "an", "the", "of", "in", "on", "for", "to", "and", "or", "with", "by", "from", "at",
    "as", "is", "are", "was", "were", "be", "been", "this", "that", "these", "those", "we",
    "our", "it", "its", "than", "which", "not", "but", "can", "may", "also", "into", "using",
]  # fmt: skip


@dataclass
class NewwordsParams:
    """Scores: ``score = w_freq*log(freq) + w_cohesion*cohesion + w_entropy*min(H_l, H_r)
    + w_domain*domain_score``; a candidate must pass every ``min_*`` threshold first."""

    lang: Literal["zh", "en"] = param(
        "zh", help="zh: character n-grams; en: word n-grams", derived="domain.lang"
    )
    max_len: int = param(6, ge=2, le=7, help="longest candidate (characters for zh)")
    max_words: int = param(4, ge=2, le=6, help="longest multi-word term (en)")
    min_pieces: int = param(3, ge=2, help="en: single words split into >= this many pieces")
    min_count: int = param(5, ge=1, help="minimum frequency in the domain corpus")
    min_cohesion: float = param(1.0, help="minimum over split points of PMI (nats)")
    min_entropy: float = param(1.0, ge=0, help="minimum of left and right neighbour entropy")
    min_domain_score: float = param(0.5, help="minimum smoothed log-odds domain vs background")
    smoothing: float = param(1.0, gt=0, help="add-alpha smoothing of the domain log-odds")
    w_freq: float = param(0.25, help="weight of log(frequency)")
    w_cohesion: float = param(1.5, help="weight of cohesion")
    w_entropy: float = param(0.5, help="weight of min(left, right) entropy")
    w_domain: float = param(0.5, help="weight of the domain score")
    max_extension_share: float = param(
        0.5,
        ge=0,
        le=1,
        help="drop a candidate when more than this share of its occurrences lies inside one "
        "one-unit-longer string (a fragment of it); 1 = off",
    )
    top_k: int = param(5000, ge=1, help="rows written to lexicon.tsv")
    stop_chars: str = param(DEFAULT_STOP_CHARS, help="zh: no candidate starts or ends with these")
    stop_words: list[str] = param(DEFAULT_STOP_WORDS_EN, help="en: same, for words")
    exclude_general_dict: bool = param(
        True,
        help="zh: drop words of jieba's general dictionary (they are not new); false keeps them",
    )
    workers: int = param(
        0,
        ge=0,
        help="counting processes; 0 = all cores (1 on machines of <= 2 cores, measured faster)",
    )
    shard_mb: float = param(2.0, gt=0, help="text per counting task (MB)")
    max_entries: int = param(
        30_000_000,
        ge=1000,
        help="cap on count-table rows (~30 B each); above it rare rows are pruned",
    )
    eval_k: list[int] = param([100, 500, 1000], help="precision@K cut-offs")

    def check(self) -> list[str]:
        problems = []
        if any(k < 1 for k in self.eval_k):
            problems.append("eval_k: every K must be >= 1")
        if self.min_count < 2 and self.lang == "zh":
            problems.append("min_count: use >= 2 (singletons have no neighbour statistics)")
        return problems
