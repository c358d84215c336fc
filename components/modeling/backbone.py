"""Backbones and tokenizers: the real ``from_pretrained`` path (a local folder or a hub id),
checked before use. The one place pretraining, fine-tuning, evaluation and the tokenizer stage
load a model or a tokenizer from."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from components.errors import InputError

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def load_tokenizer(path_or_id: str | Path, *, checkpoint: bool = False):
    """A tokenizer from a local folder or a hub id (the real ``from_pretrained`` path).
    ``checkpoint``: it must be a save_pretrained model folder (fine-tuning reads the pipeline's
    models: a missing one is a stage not run or a wrong path, not a hub id to try)."""
    from transformers import AutoTokenizer

    path_or_id = str(path_or_id)
    if checkpoint and not (Path(path_or_id) / "config.json").exists():
        raise InputError(
            path_or_id,
            "not a save_pretrained checkpoint folder (no config.json)",
            "run the pretraining stage that produces it, or fix the path in params.yaml",
        )
    try:
        tok = AutoTokenizer.from_pretrained(path_or_id)
    except (OSError, ValueError) as exc:
        raise InputError(
            path_or_id,
            f"cannot load a tokenizer: {exc}".splitlines()[0],
            "pass a folder with tokenizer files (tokenizer.json) or a reachable hub id",
        ) from None
    if not tok.is_fast:
        raise InputError(path_or_id, "only fast tokenizers are supported (offsets are needed)")
    if tok.mask_token is None:
        raise InputError(path_or_id, "the tokenizer has no mask token", "use a masked-LM tokenizer")
    return tok


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
