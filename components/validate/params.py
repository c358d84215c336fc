"""Typed parameters of the validation stage (params.yaml section ``validate``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from components.config import param


@dataclass
class CorpusChecks:
    min_chars: int = param(2, ge=0)
    max_chars: int = param(20000, ge=1)
    length_mostly: float = param(0.99, gt=0, le=1)
    max_dup_rate: float = param(0.02, ge=0, le=1)
    min_script_ratio: float = param(0.6, ge=0, le=1)
    min_docs: int = param(1000, ge=0)
    min_bytes: int = param(100_000, ge=0)
    gx_sample_size: int = param(50_000, ge=100, help="row-level GX checks run on a sample this big")
    gx_sample_max_chars: int = param(16_000_000, ge=10_000, help="...and at most this much text")
    exact_dedup_max_docs: int = param(2_000_000, ge=0)

    def check(self) -> list[str]:
        if self.max_chars < self.min_chars:
            return ["max_chars: must be >= min_chars"]
        return []


@dataclass
class TaskChecks:
    min_per_class: int = param(1, ge=0)
    check_leakage: bool = True
    min_rows: int = param(100, ge=0)


@dataclass
class ValidateParams:
    lang: Literal["zh", "en"] = param("zh", derived="domain.lang")
    corpus: CorpusChecks = field(default_factory=CorpusChecks)
    task: TaskChecks = field(default_factory=TaskChecks)
