"""Pretraining data: word boundaries from our lexicon, packing into blocks, dynamic masking.

Every token carries a ``word_start`` flag; a whole word is a token with the flag set plus the
following tokens without it. Masking picks whole words, so all characters of a lexicon word
(longest match) and all WordPiece/BPE pieces of a Latin word are masked together.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from components.data.text import is_han


class WordMatcher:
    """Longest-match (forward maximum matching) of lexicon words over characters.

    ``jieba_fallback`` segments CJK runs the lexicon leaves uncovered with jieba, so common words
    outside the domain lexicon are masked whole as well.
    """

    def __init__(self, words: Iterable[str], jieba_fallback: bool = False) -> None:
        self.words = {w for w in words if len(w) >= 2}
        self.prefixes = {w[:i] for w in self.words for i in range(1, len(w))}
        self.jieba = None
        if jieba_fallback:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            self.jieba = jieba

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Multi-character word spans ``[start, end)``, non-overlapping, left to right."""
        out: list[tuple[int, int]] = []
        words, prefixes, n = self.words, self.prefixes, len(text)
        i = 0
        gap_start = 0
        while i < n:
            best = 0
            j = i + 1
            while j <= n:
                piece = text[i:j]
                if piece in words:
                    best = j
                if piece not in prefixes:
                    break
                j += 1
            if best:
                if self.jieba is not None and gap_start < i:
                    out.extend(self._jieba_spans(text, gap_start, i))
                out.append((i, best))
                i = gap_start = best
            else:
                i += 1
        if self.jieba is not None and gap_start < n:
            out.extend(self._jieba_spans(text, gap_start, n))
        return out

    def _jieba_spans(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        out = []
        pos = start
        for w in self.jieba.cut(text[start:end]):
            if len(w) >= 2 and all(is_han(c) for c in w):
                out.append((pos, pos + len(w)))
            pos += len(w)
        return out


def word_starts(text: str, offsets: Sequence[tuple[int, int]], spans: list[tuple[int, int]]):
    """For each token (character offsets into ``text``), does it begin a new whole word?

    A token continues the previous one when both lie in the same lexicon span, or when they are
    contiguous Latin/digit text (WordPiece ``##`` pieces, BPE continuations).
    """
    span_of = {}
    for k, (a, b) in enumerate(spans):
        for c in range(a, b):
            span_of[c] = k
    flags = []
    prev_end, prev_span = -1, None
    for start, end in offsets:
        if end <= start:  # special or empty token
            flags.append(True)
            prev_end, prev_span = -1, None
            continue
        span = span_of.get(start)
        cont = span is not None and span == prev_span
        if not cont and start == prev_end and start > 0:
            a, b = text[start - 1], text[start]
            cont = a.isalnum() and b.isalnum() and not is_han(a) and not is_han(b)
        flags.append(not cont)
        prev_end, prev_span = end, span
    return flags


def held_out(text: str, fraction: float) -> bool:
    """Deterministic train/eval split by content, stable across runs and file orders."""
    return fraction > 0 and zlib.crc32(text.encode("utf-8")) % 10_000 < fraction * 10_000


def encode_stream(
    texts: Iterable[str], tokenizer, matcher: WordMatcher | None, batch: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and word-start flags of all texts, concatenated with [SEP] between documents."""
    sep = tokenizer.sep_token_id
    ids_parts: list[np.ndarray] = []
    flag_parts: list[np.ndarray] = []

    def flush(chunk: list[str]) -> None:
        # Documents longer than the model's window are fine here: they are cut into blocks.
        enc = tokenizer(chunk, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        for text, ids, offs in zip(chunk, enc["input_ids"], enc["offset_mapping"], strict=True):
            if not ids:
                continue
            spans = matcher.spans(text) if matcher is not None else []
            flags = word_starts(text, offs, spans) if matcher is not None else [True] * len(ids)
            ids_parts.append(np.asarray([*ids, sep], dtype=np.int32))
            flag_parts.append(np.asarray([*flags, True], dtype=bool))

    chunk: list[str] = []
    for t in texts:
        chunk.append(t)
        if len(chunk) >= batch:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    if not ids_parts:
        return np.zeros(0, np.int32), np.zeros(0, bool)
    return np.concatenate(ids_parts), np.concatenate(flag_parts)


@dataclass
class Blocks:
    """Fixed-length packed blocks: ``[CLS] tokens... [SEP]``, no padding anywhere."""

    ids: np.ndarray  # (n, seq_len) int32
    starts: np.ndarray  # (n, seq_len) bool

    def __len__(self) -> int:
        return len(self.ids)


def pack(ids: np.ndarray, starts: np.ndarray, seq_len: int, cls_id: int, sep_id: int) -> Blocks:
    """Cut the stream into ``seq_len`` blocks across document boundaries; the tail that does not
    fill a block is dropped (no padding)."""
    body = seq_len - 2
    n = len(ids) // body
    out_ids = np.empty((n, seq_len), np.int32)
    out_starts = np.ones((n, seq_len), bool)
    out_ids[:, 0], out_ids[:, -1] = cls_id, sep_id
    out_ids[:, 1:-1] = ids[: n * body].reshape(n, body)
    out_starts[:, 1:-1] = starts[: n * body].reshape(n, body)
    return Blocks(out_ids, out_starts)


def mask_batch(
    ids: torch.Tensor,
    starts: torch.Tensor,
    special: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    rate: float,
    mask_ratio: float,
    random_ratio: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dynamic whole-word masking of a batch of blocks.

    Each word is picked with probability ``rate``, so each token is predicted with probability
    ``rate``. Picked tokens become [MASK] / a random token / stay, in ``mask_ratio`` /
    ``random_ratio`` / rest proportions. Returns (inputs, labels with -100 where not predicted).
    """
    b, n = ids.shape
    group = torch.cumsum(starts.long(), dim=1)  # word index per token, 1-based
    pick = torch.rand(b, n + 1, generator=generator) < rate
    chosen = pick.gather(1, group) & ~special
    if not chosen.any():  # never return a batch without a target
        cand = (~special).nonzero()
        r, c = cand[torch.randint(len(cand), (1,), generator=generator)][0]
        chosen[r] = (group[r] == group[r, c]) & ~special[r]
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    u = torch.rand(b, n, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (u < mask_ratio)] = mask_id
    rnd = chosen & (u >= mask_ratio) & (u < mask_ratio + random_ratio)
    inputs[rnd] = torch.randint(vocab_size, (int(rnd.sum()),), generator=generator).to(ids.dtype)
    return inputs, labels
