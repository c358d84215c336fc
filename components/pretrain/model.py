"""The sparse masked-LM objective and FLOPs per token (peaks: mfu.py); loading: components.modeling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from components.modeling.backbone import mlm_head


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
