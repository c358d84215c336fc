"""Adapter DAPT: LoRA adapters (peft) trained on the domain text with every base weight frozen,
then merged into the weights, so fine-tuning loads a regular checkpoint ("frozen PLM + trained
adapter" for low-resource domains, at a fraction of the trainable parameters)."""

from __future__ import annotations

from torch import nn

from components.pretrain.params import TrainParams


def wrap(model: nn.Module, p: TrainParams):
    """Insert LoRA adapters into ``model`` in place and freeze everything else; returns the
    peft wrapper (None when ``adapter.r`` is 0: every weight trains)."""
    if not p.adapter.r:
        return None
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=p.adapter.r,
        lora_alpha=p.adapter.alpha,
        lora_dropout=p.adapter.dropout,
        target_modules=list(p.adapter.target_modules),
        bias="none",
    )
    # get_peft_model injects into ``model`` itself and sets requires_grad only on the adapters;
    # the trainer keeps using ``model`` (the masked-LM head and encoder are the same objects).
    return get_peft_model(model, cfg)


def merge(peft_model) -> None:
    """Fold each adapter into its base weight (W + BA x scale) and remove the adapter layers, in
    place: ``model`` becomes a plain checkpoint the regular loader reads."""
    if peft_model is not None:
        peft_model.merge_and_unload()


def trainable_share(model: nn.Module) -> float:
    total = sum(t.numel() for t in model.parameters())
    return sum(t.numel() for t in model.parameters() if t.requires_grad) / max(1, total)
