"""The pyfunc a registered classifier is served with (``models:/NAME@champion``).

Input: a DataFrame with a ``text`` column (or a list of strings); output: label names.
"""

from __future__ import annotations

import mlflow.pyfunc

from .loader import load_classifier

BATCH = 64


class TextClassifier(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.model, self.tokenizer, self.meta = load_classifier(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None):
        import torch

        texts = list(model_input["text"]) if hasattr(model_input, "columns") else list(model_input)
        labels = self.meta["labels"]
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), BATCH):
                enc = self.tokenizer(
                    texts[i : i + BATCH],
                    truncation=True,
                    max_length=self.meta["max_len"],
                    padding=True,
                    return_tensors="pt",
                )
                out += [labels[j] for j in self.model(**enc).logits.argmax(-1).tolist()]
        return out
