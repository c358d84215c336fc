"""Load a fine-tuned classifier folder (components/finetune/core.py ``save_classifier``).

Weights are read from safetensors only: a folder whose weights exist only as a pickle
(``pytorch_model.bin``, ``adapter_model.bin``) is refused rather than unpickled, so loading a
model runs no code stored with it.
"""

from __future__ import annotations

import json
from pathlib import Path

META_FILE = "finetune.json"  # strategy, labels (index -> name), max_len, pooling, adapter


def _require_safetensors(folder: Path) -> None:
    if not any(folder.glob("*.safetensors")):
        raise FileNotFoundError(
            f"{folder}: no *.safetensors weights; pickled weights are never loaded "
            "(re-save the model with safe_serialization=True)"
        )


def load_classifier(folder: str | Path):
    """(model in eval mode, tokenizer, meta) of a fine-tuned folder."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from .meanpool import BertMeanPoolForSequenceClassification

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    folder = Path(folder)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    _require_safetensors(folder)
    mean = meta.get("pooling", "cls") == "mean"
    cls = BertMeanPoolForSequenceClassification if mean else AutoModelForSequenceClassification
    model = cls.from_pretrained(folder, use_safetensors=True)
    if meta.get("adapter") and not meta.get("merged"):
        from peft import PeftModel

        adapter = folder / meta["adapter"]
        _require_safetensors(adapter)  # peft would fall back to torch.load of a .bin
        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model, AutoTokenizer.from_pretrained(folder), meta
