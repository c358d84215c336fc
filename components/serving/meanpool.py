"""Sentence vectors for classification: the mean of the token states instead of BERT's pooler.

BERT's own head classifies the [CLS] vector through a pooler that next-sentence prediction
trained. A checkpoint pretrained or continued with masked LM only (every checkpoint this
pipeline makes) has an untrained [CLS] and no pooler: the classifier starts from noise and needs
many passes to find a signal. The masked mean of the token states hands it what masked-LM
training did learn from the first step (docs/finetune.md has the measurement).

Self-contained (components/serving/__init__.py says why): training imports it from
components.finetune.pooling, a registered model from its own copy.
"""

from __future__ import annotations

import torch
from transformers import BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    if attention_mask is None:
        return hidden.mean(1)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class BertMeanPoolForSequenceClassification(BertForSequenceClassification):
    """BertForSequenceClassification with the classifier on the masked mean of the last layer.

    Same weights and checkpoint layout minus the pooler, so peft (LoRA, soft prompts, prefixes)
    and ``save_pretrained`` treat it like the original class."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.bert.pooler = None  # unused: keep its random weights out of the optimizer

    @torch.no_grad()
    def _init_weights(self, module) -> None:
        """The new classifier starts from PyTorch's Linear default, U(+-1/sqrt(hidden)), not BERT's
        N(0, 0.02): close for bert-base (bound 0.036), but for the demo's 128-wide model the BERT
        scale left it at 35.7 % macro-F1 after one pass, the PyTorch scale at 45.4 %
        (docs/finetune.md)."""
        if module is getattr(self, "classifier", None):
            module.reset_parameters()
        else:
            super()._init_weights(module)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        past_key_values=None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        """``past_key_values`` is named in the signature because peft's prefix tuning looks for
        it there: without it peft bypasses this forward, calls ``self.bert`` itself and applies
        the classifier to every token state (logits of shape batch x tokens x labels)."""
        kwargs.pop("return_dict", None)
        out = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            past_key_values=past_key_values,
            return_dict=True,
            **kwargs,
        )
        hidden = out.last_hidden_state
        if attention_mask is not None:
            # Prefix tuning prepends the prefix's columns to the mask; the prefixes are keys and
            # values only, not token states, so the mean reads the text's own (last) columns.
            attention_mask = attention_mask[:, -hidden.shape[1] :]
        logits = self.classifier(self.dropout(masked_mean(hidden, attention_mask)))
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(
                logits.view(-1, self.num_labels), labels.view(-1)
            )
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions
        )
