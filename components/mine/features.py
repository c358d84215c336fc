"""Vectorised character n-gram hashing over a whole shard of documents at once.

A shard's texts are joined with a NUL separator into one array of code points; an n-gram is valid
when no separator falls inside it. Every per-document statistic is then a ``bincount`` over the
document index of each n-gram, so no Python loop runs per character. Character n-grams need no
word segmentation, which keeps Chinese (and any other script) on the same fast path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from components.data.text import HAN_RANGES

_MUL = np.uint64(0x9E3779B97F4A7C15)
_MUL2 = np.uint64(0xBF58476D1CE4E5B9)
_SHIFT = np.uint64(31)


@dataclass
class Encoded:
    """The code points of a shard, plus where each document lies in them."""

    cp: np.ndarray  # uint64 code points, documents separated by 0
    doc: np.ndarray  # int64 document index of every position
    csep: np.ndarray  # csep[i] = number of separators before position i
    lengths: np.ndarray  # int64 characters per document
    n_docs: int

    def grams(self, n: int, salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(hash, document index) of every valid character n-gram, in text order."""
        h, valid = self.grams_at(n, salt)
        return h[valid], self.doc[: len(valid)][valid]

    def grams_at(self, n: int, salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of the n-grams starting at every position, and which of them are valid."""
        size = len(self.cp) - n + 1
        if size <= 0:
            return np.zeros(0, np.uint64), np.zeros(0, bool)
        h = np.full(size, np.uint64((salt * 0x632BE59BD9B4E019 + n) % (1 << 64)), np.uint64)
        for k in range(n):
            h = (h ^ self.cp[k : k + size]) * _MUL
        h ^= h >> _SHIFT
        h *= _MUL2
        h ^= h >> _SHIFT
        valid = (self.csep[n : n + size] - self.csep[:size]) == 0
        return h, valid


def encode(texts: list[str], *, lowercase: bool = True) -> Encoded:
    joined = "\x00".join(texts) + "\x00"
    if lowercase:
        joined = joined.lower()
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    if lowercase and len(cp) != int(lengths.sum()) + len(texts):
        # A few characters (e.g. "İ") lower-case to two; recount so positions stay aligned.
        parts = joined.split("\x00")[:-1]
        lengths = np.fromiter((len(t) for t in parts), dtype=np.int64, count=len(parts))
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)
    sep = (cp == 0).astype(np.int64)
    csep = np.concatenate([[0], np.cumsum(sep)])
    return Encoded(cp=cp, doc=doc, csep=csep, lengths=lengths, n_docs=len(texts))


def buckets(h: np.ndarray, bits: int) -> np.ndarray:
    """Top ``bits`` bits of a mixed 64-bit hash: the best-mixed ones."""
    return (h >> np.uint64(64 - bits)).astype(np.int64)


def per_doc_mean(values: np.ndarray, doc: np.ndarray, n_docs: int) -> np.ndarray:
    """Mean of ``values`` per document (0 for a document without any)."""
    total = np.bincount(doc, weights=values, minlength=n_docs)
    count = np.bincount(doc, minlength=n_docs)
    return np.divide(total, count, out=np.zeros(n_docs), where=count > 0)


# Character classes by code point, for per-document ratios without a regex pass per class.
SPACE, LETTER, NUMBER, SYMBOL, HAN, LATIN = 1, 2, 4, 8, 16, 32
_TABLE_SIZE = 0x30000  # every code point above is classed as a symbol (rare private-use etc.)


@functools.cache
def char_classes() -> np.ndarray:
    import unicodedata

    table = np.zeros(_TABLE_SIZE, dtype=np.uint8)
    for c in range(_TABLE_SIZE):
        cat = unicodedata.category(chr(c))
        if cat[0] in "LM":
            table[c] = LETTER
        elif cat[0] == "N":
            table[c] = NUMBER
        elif cat[0] == "Z" or chr(c) in "\t\n\r\x0b\x0c":
            table[c] = SPACE
        else:
            table[c] = SYMBOL
    for lo, hi in HAN_RANGES:
        table[lo : hi + 1] |= HAN
    for lo, hi in ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)):
        sel = table[lo : hi + 1] & LETTER > 0
        table[lo : hi + 1][sel] |= LATIN
    table[0] = 0  # the document separator
    return table


def class_counts(enc: Encoded) -> dict[int, np.ndarray]:
    """Per document: how many characters fall in each class (SPACE, LETTER, ... LATIN)."""
    table = char_classes()
    cls = table[np.minimum(enc.cp, _TABLE_SIZE - 1)].astype(np.int64)
    cls[enc.cp >= _TABLE_SIZE] = SYMBOL
    joint = np.bincount(enc.doc * 64 + cls, minlength=enc.n_docs * 64).reshape(enc.n_docs, 64)
    bits = np.arange(64)
    return {
        c: joint[:, (bits & c) > 0].sum(axis=1) for c in (SPACE, LETTER, NUMBER, SYMBOL, HAN, LATIN)
    }
