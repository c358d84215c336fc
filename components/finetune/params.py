"""Typed parameters of fine-tuning (params.yaml section ``finetune``): the training recipe.

Which backbones, strategies and seeds are run is the ``evaluate`` section's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from components.config import param

STRATEGIES = (
    "full",
    "head",
    "frozen",
    "bitfit",
    "lora",
    "prompt_tuning",
    "p_tuning",
    "prefix_tuning",
    "pet",
)
# Strategies that put virtual tokens in front of the input: each takes positions from max_len.
SOFT_PROMPTS = ("prompt_tuning", "p_tuning", "prefix_tuning")
# Strategies saved as a peft adapter beside the backbone.
PEFT_STRATEGIES = ("lora", *SOFT_PROMPTS)


@dataclass
class LoraParams:
    r: int = param(8, ge=1, le=256)
    alpha: int = param(16, ge=1)
    dropout: float = param(0.1, ge=0.0, lt=1.0)
    target_modules: list[str] = param(["query", "value"], help="attention projections adapted")
    merge: bool = param(True, help="also save the adapter merged into the backbone")


@dataclass
class PromptTuningParams:
    num_virtual_tokens: int = param(8, ge=1, le=256, help="soft-prompt length")


@dataclass
class PTuningParams:
    """P-Tuning (Liu et al., "GPT understands, too"): input-layer soft prompts produced by a
    trained prompt encoder instead of free vectors."""

    num_virtual_tokens: int = param(8, ge=1, le=256, help="soft-prompt length")
    encoder: Literal["mlp", "lstm"] = param(
        "mlp", help="prompt encoder: mlp (3 linear layers) | lstm (the paper's BiLSTM + MLP)"
    )
    encoder_hidden_size: int = param(
        0, ge=0, help="prompt-encoder width; 0 = the backbone's hidden size"
    )


@dataclass
class PrefixTuningParams:
    """Prefix tuning / P-Tuning v2: trained key/value prefixes in every layer's attention."""

    num_virtual_tokens: int = param(8, ge=1, le=256, help="prefix length (per layer)")
    projection: bool = param(
        False,
        help="reparameterize the prefixes through a 2-layer MLP (Li & Liang's prefix tuning); "
        "false = free prefixes at every layer (P-Tuning v2)",
    )
    encoder_hidden_size: int = param(
        0, ge=0, help="projection MLP width (projection: true); 0 = the backbone's hidden size"
    )


@dataclass
class PetParams:
    template: str = param("{text} {mask}", derived="domain.task.pet.template")
    label_words: dict[str, str] = param({}, derived="domain.task.pet.label_words")
    shots: int = param(32, ge=1, help="few-shot training examples per class")
    epochs: int = param(5, ge=1, le=1000, help="passes over the few-shot set")
    # template and label_words are checked where they are set: domain.task.pet (PetSpec)


@dataclass
class FinetuneParams:
    max_len: int = param(
        0,
        ge=0,
        le=8192,
        help="tokens per example, [CLS]/[SEP] included; 0 = from the task (max_len_percentile of "
        "the train texts' lengths under the baseline's tokenizer, capped by its positions)",
    )
    max_len_percentile: float = param(95.0, gt=0, le=100, help="used when max_len is 0")
    batch_size: int = param(32, ge=1)
    epochs: float = param(
        3.0, gt=0.0, le=1000.0, help="most passes over the (subsampled) train set; early stopping"
    )
    max_steps: int = param(0, ge=0, help="cap on optimizer steps (compute budget); 0 = none")
    max_train_rows: int = param(0, ge=0, help="stratified train subsample; 0 = all rows")
    max_dev_rows: int = param(0, ge=0, help="dev rows used for early stopping; 0 = all")
    evals_per_epoch: int = param(8, ge=1, help="dev evaluations per pass (early stopping)")
    patience: int = param(3, ge=1, help="dev evaluations without improvement before stopping")
    group_by_length: bool = param(
        True,
        help="sort each window of 50 shuffled batches by length (HF group_by_length): less "
        "padding; off for train sets that fit in one window, whose batches would never change",
    )
    lr: dict[str, float] = param(
        {
            "full": 2e-4,
            "head": 5e-3,
            "frozen": 1e-3,
            "bitfit": 1e-3,
            "lora": 1e-3,
            "prompt_tuning": 3e-2,
            "p_tuning": 1e-2,
            "prefix_tuning": 1e-2,
            "pet": 1e-4,
        },
        help="learning rate per strategy",
    )
    class_weight: Literal["none", "inverse_sqrt", "inverse"] = param(
        "none",
        help="loss weight per class: none | inverse_sqrt (1/sqrt(count), mean 1) | inverse; "
        "macro-F1 counts rare classes as much as common ones",
    )
    pooling: Literal["cls", "mean"] = param(
        "cls",
        help="sentence vector for the classifier: cls (BERT's pooler on [CLS]) | mean (masked "
        "mean of the token states; for masked-LM-only checkpoints, whose [CLS] is untrained)",
    )
    head_lr_scale: float = param(
        1.0, gt=0.0, help="learning-rate multiplier for the new classifier/pooler weights"
    )
    weight_decay: float = param(0.01, ge=0.0)
    warmup_ratio: float = param(0.06, ge=0.0, le=1.0)
    clip_grad: float = param(1.0, ge=0.0, help="0 = no clipping")
    threads: int = param(0, ge=0, help="torch CPU threads; 0 = torch's default")
    device: str = param("auto", help="auto = CUDA when available, else CPU; or cpu, cuda:N")
    precision: Literal["auto", "bf16", "fp32"] = param(
        "auto", help="auto = bf16 autocast on CUDA and on CPUs with AVX512-BF16/AMX; bf16 | fp32"
    )
    lora: LoraParams = field(default_factory=LoraParams)
    prompt_tuning: PromptTuningParams = field(default_factory=PromptTuningParams)
    p_tuning: PTuningParams = field(default_factory=PTuningParams)
    prefix_tuning: PrefixTuningParams = field(default_factory=PrefixTuningParams)
    pet: PetParams = field(default_factory=PetParams)

    def check(self) -> list[str]:
        if 0 < self.max_len < 8:
            return ["max_len: use 0 (from the task) or at least 8"]
        missing = sorted(set(STRATEGIES) - set(self.lr))
        if missing:
            return [f"lr: no learning rate for strategy {missing[0]!r}"]
        unknown = sorted(set(self.lr) - set(STRATEGIES))
        if unknown:
            return [f"lr.{unknown[0]}: unknown strategy (known: {', '.join(STRATEGIES)})"]
        return []
