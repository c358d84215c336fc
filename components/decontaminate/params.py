"""Typed parameters of decontamination (params.yaml section ``decontaminate``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.config import param


@dataclass
class DecontaminateParams:
    """A document matches a dev/test text when it holds at least ``threshold`` of the text's
    ``ngram``-unit n-grams (units: characters for zh, words for en, after removing case,
    whitespace and punctuation). Texts shorter than ``ngram`` units match only when the document
    contains the whole text, and texts shorter than ``min_units`` are not checked at all (a few
    characters are a common phrase, not a leak)."""

    lang: Literal["zh", "en"] = param("zh", derived="domain.lang")
    ngram: int = param(13, ge=3, le=50, help="units per n-gram (GPT-3 and NeMo Curator use 13)")
    threshold: float = param(0.5, gt=0, le=1, help="share of a text's n-grams that makes a match")
    min_units: int = param(8, ge=1, help="shorter dev/test texts are not checked")
    action: Literal["span", "document"] = param(
        "span", help="span: cut the matched span out of the document | document: drop it"
    )
    span_margin: int = param(0, ge=0, help="extra units removed on each side of a matched span")
    min_remainder: int = param(20, ge=0, help="pieces shorter than this (units) left by a cut go")
    splits: list[Literal["dev", "test"]] = param(["dev", "test"], help="texts to protect")

    def check(self) -> list[str]:
        if self.min_units > self.ngram:
            return ["min_units: must be <= ngram"]
        if not self.splits:
            return ["splits: name at least one of dev, test"]
        return []
