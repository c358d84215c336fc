"""Sentence vectors for classification: BERT's [CLS] pooler, or the mean of the token states.

The mean-pooling class lives in components/serving/meanpool.py (it is packaged with every
registered model, so it must not import the project); this module picks the class to load.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoModelForSequenceClassification

from components.errors import InputError
from components.serving.meanpool import BertMeanPoolForSequenceClassification, masked_mean

__all__ = ["BertMeanPoolForSequenceClassification", "classifier_class", "masked_mean"]


def classifier_class(folder: str | Path, pooling: str):
    """The transformers class that loads ``folder`` as a classifier with ``pooling``."""
    if pooling == "cls":
        return AutoModelForSequenceClassification
    model_type = AutoConfig.from_pretrained(folder).model_type
    if model_type != "bert":
        raise InputError(
            str(folder),
            f"finetune.pooling: mean is implemented for BERT-architecture checkpoints "
            f"(model_type bert, e.g. bert-base-chinese, chinese-roberta-wwm-ext); this one is "
            f"{model_type!r}",
            "set finetune.pooling: cls in params.yaml",
        )
    return BertMeanPoolForSequenceClassification
