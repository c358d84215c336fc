"""Loading masked-LM checkpoints, the sparse masked-LM objective, FLOPs per token (peaks: mfu.py)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from components.errors import InputError

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def verify_weights(folder: str | Path) -> None:
    """Refuse a truncated or corrupt ``model.safetensors`` before anything loads it: the header
    (8-byte length + JSON) must describe exactly the bytes the file has."""
    path = Path(folder) / "model.safetensors"
    if not path.is_file():
        return
    size = path.stat().st_size

    def bad(problem: str) -> InputError:
        return InputError(
            str(path),
            f"the weights file is truncated or corrupt ({problem})",
            f"restore {path} (git checkout -- {path} for a committed model; dvc checkout "
            f"{folder} for a pipeline output) or rebuild it, then run again",
        )

    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise bad(f"{size} bytes, shorter than the 8-byte header length")
        n = int.from_bytes(head, "little")
        if n > size - 8:
            raise bad(f"the header needs {n} bytes, the file has {size - 8} after its length")
        try:
            meta = json.loads(f.read(n))
            end = max(
                (int(v["data_offsets"][1]) for k, v in meta.items() if k != "__metadata__"),
                default=0,
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            raise bad("the header is not the JSON tensor table of a safetensors file") from None
    if 8 + n + end != size:
        raise bad(f"{size} bytes, but its header describes {8 + n + end}")


def load_masked_lm(path_or_id: str, attn: str = "sdpa"):
    """(model, tokenizer) from a checkpoint folder or hub id.

    A folder holding only ``config.json`` and tokenizer files means "initialise from this config"
    (random weights), which is how the general base model is built.
    """
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoModelForMaskedLM

    from components.tokenizer.core import load_tokenizer

    tok = load_tokenizer(path_or_id)
    folder = Path(path_or_id)
    if folder.is_dir():
        verify_weights(folder)
    try:
        if folder.is_dir() and not any((folder / f).exists() for f in _WEIGHT_FILES):
            config = AutoConfig.from_pretrained(folder)
            model = AutoModelForMaskedLM.from_config(config, attn_implementation=attn)
        else:
            # fp32 master weights whatever the checkpoint's dtype; autocast does the bf16 part.
            model = AutoModelForMaskedLM.from_pretrained(
                path_or_id, attn_implementation=attn, dtype=torch.float32
            )
    except (OSError, ValueError, SafetensorError) as exc:
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
