"""Typed parameters of the tokenizer stage (params.yaml section ``tokenizer``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.config import param


@dataclass
class TrainTokenizerParams:
    """Training a character-level WordPiece vocabulary (like bert-base-chinese) locally."""

    vocab_size: int = param(8000, ge=100, le=200000, help="target vocabulary size")
    min_frequency: int = param(2, ge=1, help="drop pieces seen fewer times")
    max_docs: int = param(0, ge=0, help="0 = the whole corpus")
    lowercase: bool = param(True)


@dataclass
class InitModelParams:
    """The BERT shape written as config.json next to a freshly trained tokenizer."""

    num_layers: int = param(4, ge=1, le=48)
    hidden_size: int = param(256, ge=8, le=8192)
    num_heads: int = param(4, ge=1, le=128)
    intermediate_size: int = param(1024, ge=8)
    max_position: int = param(512, ge=16, le=8192)
    dropout: float = param(0.1, ge=0.0, lt=1.0)

    def check(self) -> list[str]:
        if self.hidden_size % self.num_heads:
            return ["hidden_size: must be a multiple of num_heads"]
        return []


@dataclass
class TokenizerParams:
    base: str = param(
        "models/base-zh-tiny",
        help="checkpoint directory or hub id whose tokenizer (and embeddings) are extended",
    )
    top_k: int = param(200, ge=0, help="how many discovered words to add to the vocabulary")
    min_word_chars: int = param(2, ge=1, help="ignore shorter lexicon entries")
    max_word_chars: int = param(12, ge=1, help="ignore longer lexicon entries")
    train: TrainTokenizerParams = field(default_factory=TrainTokenizerParams)
    init_model: InitModelParams = field(default_factory=InitModelParams)

    def check(self) -> list[str]:
        if self.min_word_chars > self.max_word_chars:
            return ["min_word_chars: must not exceed max_word_chars"]
        return []
