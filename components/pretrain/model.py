"""Loading masked-LM checkpoints, the sparse masked-LM objective, FLOPs per token (peaks: mfu.py)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from components.errors import InputError

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def load_masked_lm(path_or_id: str, attn: str = "sdpa"):
    """(model, tokenizer) from a checkpoint folder or hub id.

    A folder holding only ``config.json`` and tokenizer files means "initialise from this config"
    (random weights), which is how the general base model is built.
    """
    from transformers import AutoConfig, AutoModelForMaskedLM

    from components.tokenizer.core import load_tokenizer

    tok = load_tokenizer(path_or_id)
    folder = Path(path_or_id)
    try:
        if folder.is_dir() and not any((folder / f).exists() for f in _WEIGHT_FILES):
            config = AutoConfig.from_pretrained(folder)
            model = AutoModelForMaskedLM.from_config(config, attn_implementation=attn)
        else:
            # fp32 master weights whatever the checkpoint's dtype; autocast does the bf16 part.
            model = AutoModelForMaskedLM.from_pretrained(
                path_or_id, attn_implementation=attn, dtype=torch.float32
            )
    except (OSError, ValueError) as exc:
        raise InputError(
            path_or_id,
            f"cannot load a masked-LM model: {exc}".splitlines()[0],
            "pass a save_pretrained folder, a folder with config.json + tokenizer, or a hub id",
        ) from None
    if model.get_input_embeddings().weight.shape[0] < len(tok):
        raise InputError(
            path_or_id,
            f"tokenizer has {len(tok)} tokens but the model only "
            f"{model.get_input_embeddings().weight.shape[0]} embedding rows",
            "extend the vocabulary with `dapt tokenizer extend`, which resizes the embeddings",
        )
    return model, tok


def mlm_head(model: nn.Module) -> nn.Module:
    for name in ("cls", "lm_head", "predictions"):
        head = getattr(model, name, None)
        if isinstance(head, nn.Module):
            return head
    raise TypeError(f"{type(model).__name__}: no masked-LM head (cls/lm_head) found")


class SparseMLM(nn.Module):
    """Masked-LM loss that runs the vocabulary projection only at the predicted positions.

    Packed blocks have no padding, so no attention mask is passed and SDPA takes its fast path.
    Wrapping the whole objective in one module keeps DDP's gradient hooks intact.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.encoder = model.base_model
        self.head = mlm_head(model)

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
    ) -> torch.Tensor:
        """Cross-entropy at the masked positions; ``reduction="sum"`` lets the trainer divide by
        the masked-token count of the whole global batch instead of this micro-batch's."""
        hidden = self.encoder(input_ids=input_ids).last_hidden_state
        sel = labels != -100
        logits = self.head(hidden[sel])
        return F.cross_entropy(logits.float(), labels[sel], reduction=reduction)


def flops_per_token(config, seq_len: int, mask_rate: float) -> float:
    """Training FLOPs per input token (forward + backward = 3x forward, 2 FLOPs per MAC).

    Encoder matmuls + attention scores, plus the head (transform + vocabulary projection) at
    masked tokens only, as ``SparseMLM`` runs it; equal to torch's FLOP counter (tested).
    """
    h, n_layer = config.hidden_size, config.num_hidden_layers
    inter = getattr(config, "intermediate_size", 4 * h)
    per_layer = 4 * h * h + 2 * h * inter  # QKV + output projection, two FFN matmuls
    attn = 2 * seq_len * h  # QK^T and AV per token per layer
    head = mask_rate * (h * h + h * config.vocab_size)
    return 6.0 * (n_layer * (per_layer + attn) + head)
