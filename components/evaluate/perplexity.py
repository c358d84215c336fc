"""Masked-LM loss per character: comparable across tokenizers.

A candidate with an extended vocabulary predicts a whole word as one token where the base
predicts its characters one by one, so per-token perplexities cannot be compared. Here the masks
are chosen on the *text* (whole words, seeded by the text, the same for every model): each model
masks every token that overlaps a chosen word, and its summed negative log-likelihood over those
tokens is divided by the number of characters they cover. ``exp`` of that is the character
perplexity used by the corpus-only gate and the general-perplexity guard.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from components.data.text import HAN_RE

_WORD_RE = re.compile(r"[^\W_]+|[^\w\s]")
RATE = 0.15


@dataclass
class TextNLL:
    """Per-document sums, so the gate can bootstrap over documents (paired across models)."""

    nll: np.ndarray  # summed over masked tokens, nats
    chars: np.ndarray  # characters those tokens cover

    @property
    def per_char(self) -> float:
        return float(self.nll.sum() / max(1, self.chars.sum()))

    @property
    def perplexity(self) -> float:
        return float(np.exp(self.per_char))


def word_spans(text: str, matcher=None) -> list[tuple[int, int]]:
    """Whole words: lexicon/jieba words over Han runs (``matcher``), regex words elsewhere."""
    spans = []
    covered = set()
    if matcher is not None and HAN_RE.search(text):
        for a, b in matcher.spans(text):
            spans.append((a, b))
            covered.update(range(a, b))
    for m in _WORD_RE.finditer(text):
        if m.start() in covered:
            continue
        if HAN_RE.match(text[m.start()]):  # a Han run outside lexicon words: one char each
            spans += [(i, i + 1) for i in range(m.start(), m.end()) if i not in covered]
        else:
            spans.append((m.start(), m.end()))
    return sorted(spans)


def chosen_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The words masked in ``text``: ~RATE of them, drawn from a seed made of the text only."""
    rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
    pick = rng.random(len(spans)) < RATE
    if spans and not pick.any():
        pick[rng.integers(len(spans))] = True
    return [s for s, k in zip(spans, pick, strict=True) if k]


@torch.no_grad()
def text_nll(
    model, tokenizer, texts: list[str], matcher=None, window: int = 126, batch: int = 32
) -> TextNLL:
    """Masked NLL and covered characters per text (windows of ``window`` tokens, batched)."""
    model.eval()
    device = next(model.parameters()).device
    nll, chars = np.zeros(len(texts)), np.zeros(len(texts))
    windows = []  # (doc, token ids with [CLS]/[SEP], masked flags, characters covered)
    for i, text in enumerate(texts):
        masked = chosen_spans(text, word_spans(text, matcher))
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        ids, offs = enc["input_ids"], enc["offset_mapping"]
        covered = np.zeros(len(text) + 1, np.int64)
        for a, b in masked:
            covered[a], covered[b] = covered[a] + 1, covered[b] - 1
        inside = np.concatenate([[0], np.cumsum(np.cumsum(covered)[:-1] > 0)])
        hit = [e > s and inside[e] > inside[s] for s, e in offs]
        for w in range(0, len(ids), window):
            flags = hit[w : w + window]
            if any(flags):
                n = sum(e - s for (s, e), f in zip(offs[w : w + window], flags, strict=True) if f)
                ids_w = [tokenizer.cls_token_id, *ids[w : w + window], tokenizer.sep_token_id]
                windows.append((i, ids_w, [False, *flags, False], n))
    windows.sort(key=lambda x: len(x[1]))
    for k in range(0, len(windows), batch):
        part = windows[k : k + batch]
        width = max(len(w[1]) for w in part)
        target = torch.full((len(part), width), tokenizer.pad_token_id, dtype=torch.long)
        where = torch.zeros((len(part), width), dtype=torch.bool)
        attn = torch.zeros((len(part), width), dtype=torch.long)
        for r, (_, ids_w, flags, _) in enumerate(part):
            target[r, : len(ids_w)] = torch.tensor(ids_w)
            where[r, : len(flags)] = torch.tensor(flags)
            attn[r, : len(ids_w)] = 1
        x = target.masked_fill(where, tokenizer.mask_token_id)
        logits = model(input_ids=x.to(device), attention_mask=attn.to(device)).logits
        loss = torch.nn.functional.cross_entropy(
            logits[where.to(device)].float(), target[where].to(device), reduction="none"
        ).cpu()
        per_row = torch.zeros(len(part)).index_add_(0, where.nonzero()[:, 0], loss)
        for r, (doc, _, _, n) in enumerate(part):
            nll[doc] += float(per_row[r])
            chars[doc] += n
    return TextNLL(nll, chars)


def paired_gain(
    cand: TextNLL, ref: TextNLL, samples: int, confidence: float, seed: int = 0
) -> tuple[float, float, float]:
    """Relative character-perplexity reduction of ``cand`` vs ``ref`` (1 - ppl_c / ppl_r) with a
    bootstrap interval over documents (the same documents and masks for both)."""

    def gain(idx):
        c = cand.nll[idx].sum(-1) / np.maximum(1, cand.chars[idx].sum(-1))
        r = ref.nll[idx].sum(-1) / np.maximum(1, ref.chars[idx].sum(-1))
        return 1 - np.exp(c - r)

    n = len(cand.nll)
    point = float(gain(np.arange(n)))
    rng = np.random.default_rng(seed)
    boot = gain(rng.integers(0, n, (samples, n)))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return point, float(low), float(high)
