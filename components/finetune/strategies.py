"""What trains under each classifier strategy: freeze the rest, or wrap the model with peft.

full           every weight trains
head           linear probe: only the classifier
frozen         LayerNorms, position embeddings, pooler and the classifier
               (frozen-pretrained-transformer)
bitfit         every bias term and the classifier (Ben Zaken et al., 2022)
lora           peft LoRA on the attention projections (+ classifier)
prompt_tuning  peft free soft prompts at the input (+ classifier)
p_tuning       peft soft prompts at the input, produced by a trained prompt encoder
               (+ classifier)
prefix_tuning  peft key/value prefixes in every layer, P-Tuning v2 (+ classifier)
"""

from __future__ import annotations

from components.errors import ConfigError
from components.finetune.params import PEFT_STRATEGIES, SOFT_PROMPTS, FinetuneParams


def virtual_tokens(strategy: str, p: FinetuneParams) -> int:
    return getattr(p, strategy).num_virtual_tokens if strategy in SOFT_PROMPTS else 0


def check_positions(strategy: str, p: FinetuneParams, config) -> None:
    """Soft prompts sit in front of the text (prompt tuning, P-Tuning) or shift its positions by
    the prefix length (prefix tuning: BERT numbers the tokens after the cached prefix), so the
    text gets ``max_position_embeddings - num_virtual_tokens`` positions; beyond that the
    position lookup fails mid-training with an index error."""
    n = virtual_tokens(strategy, p)
    limit = getattr(config, "max_position_embeddings", None)
    if n and limit is not None and p.max_len + n > limit:
        raise ConfigError(
            f"finetune.{strategy}.num_virtual_tokens: {n} virtual tokens + finetune.max_len "
            f"{p.max_len} exceed the backbone's {limit} positions; lower one of them"
        )


def peft_config(strategy: str, p: FinetuneParams):
    from peft import (
        LoraConfig,
        PrefixTuningConfig,
        PromptEncoderConfig,
        PromptTuningConfig,
        TaskType,
    )

    seq = TaskType.SEQ_CLS  # peft adds the classifier to modules_to_save: it trains and is saved
    if strategy == "lora":
        return LoraConfig(
            task_type=seq,
            r=p.lora.r,
            lora_alpha=p.lora.alpha,
            lora_dropout=p.lora.dropout,
            target_modules=list(p.lora.target_modules),
        )
    if strategy == "prompt_tuning":
        return PromptTuningConfig(
            task_type=seq, num_virtual_tokens=p.prompt_tuning.num_virtual_tokens
        )
    if strategy == "p_tuning":
        q = p.p_tuning
        return PromptEncoderConfig(
            task_type=seq,
            num_virtual_tokens=q.num_virtual_tokens,
            encoder_reparameterization_type=q.encoder.upper(),
            encoder_hidden_size=q.encoder_hidden_size or None,  # None: peft takes the model's
        )
    if strategy == "prefix_tuning":
        q = p.prefix_tuning
        return PrefixTuningConfig(
            task_type=seq,
            num_virtual_tokens=q.num_virtual_tokens,
            prefix_projection=q.projection,
            encoder_hidden_size=q.encoder_hidden_size or None,
        )
    raise ValueError(f"not a peft strategy: {strategy!r}")


def apply_strategy(model, strategy: str, p: FinetuneParams):
    """``model`` (a freshly loaded classifier) with only ``strategy``'s weights trainable."""
    if strategy in PEFT_STRATEGIES:
        from peft import get_peft_model

        check_positions(strategy, p, model.config)
        return get_peft_model(model, peft_config(strategy, p))
    if strategy in ("head", "frozen", "bitfit"):
        for name, t in model.named_parameters():
            t.requires_grad_(trains(strategy, name))
    elif strategy != "full":
        raise ValueError(f"unknown classifier strategy {strategy!r}")
    return model


def trains(strategy: str, name: str) -> bool:
    if name.startswith("classifier"):
        return True
    if strategy == "frozen":
        return "LayerNorm" in name or "position_embeddings" in name or "pooler" in name
    # BitFit: every additive bias (attention q/k/v and output, both feed-forward layers,
    # LayerNorm betas, and the pooler's with pooling: cls), the paper's set for BERT.
    return strategy == "bitfit" and name.endswith(".bias")
