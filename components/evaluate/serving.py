"""The pyfunc wrapper a registered classifier is served with (``models:/NAME@champion``).

Input: a DataFrame with a ``text`` column (or a list of strings); output: label names.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc


def load_classifier(folder: str | Path):
    """A fine-tuned folder written by components.finetune.core.save_classifier."""
    from transformers import AutoTokenizer

    from components.finetune.core import META_FILE, quiet_transformers
    from components.finetune.pooling import classifier_class

    quiet_transformers()
    folder = Path(folder)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    model = classifier_class(folder, meta.get("pooling", "cls")).from_pretrained(folder)
    if meta.get("adapter") and not meta.get("merged"):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, folder / meta["adapter"])
    model.eval()
    return model, AutoTokenizer.from_pretrained(folder), meta


class Classifier(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.model, self.tokenizer, self.meta = load_classifier(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None):
        import torch

        texts = list(model_input["text"]) if hasattr(model_input, "columns") else list(model_input)
        labels = self.meta["labels"]
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                enc = self.tokenizer(
                    texts[i : i + 64],
                    truncation=True,
                    max_length=self.meta["max_len"],
                    padding=True,
                    return_tensors="pt",
                )
                out += [labels[j] for j in self.model(**enc).logits.argmax(-1).tolist()]
        return out
