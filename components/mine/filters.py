"""Corpus hygiene: quality filters, content hashes and MinHash signatures (pure, per shard), and
the sequential deduplication that needs to see every earlier document (``Deduper``).

Reasons, in the order they are checked (the first that applies is recorded)::

    too_short  too_long  too_many_symbols  repeated_lines  repeated_ngrams  wrong_script
    in_seed (same or nearly the same text as a seed document)  exact_dup  near_dup
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from components.data.text import hash64, script_counts
from components.mine.features import Encoded
from components.mine.params import HygieneParams

QUALITY_REASONS = (
    "too_short",
    "too_long",
    "too_many_symbols",
    "repeated_lines",
    "repeated_ngrams",
    "wrong_script",
)
DEDUP_REASONS = ("in_seed", "exact_dup", "near_dup")
_SYMBOL_RE = re.compile(r"[^\w\s]|_")
_SPACE_RE = re.compile(r"\s+")
_SHINGLE_SALT, _REPEAT_SALT = 53, 67
_MAX_CHUNK = 1 << 15  # shingles per (chunk x num_perm) block: bounds the temporary matrix


def quality_reasons(
    texts: list[str], enc: Encoded, hp: HygieneParams, lang: str
) -> list[str | None]:
    """The first failed quality filter of each document, or None."""
    dup_ngram = _dup_ngram_ratio(enc, hp.dup_ngram_size)
    out: list[str | None] = []
    for i, text in enumerate(texts):
        n = len(text)
        out.append(
            "too_short"
            if n < hp.min_chars
            else "too_long"
            if n > hp.max_chars
            else _content_reason(text, n, float(dup_ngram[i]), hp, lang)
        )
    return out


def _content_reason(text: str, n: int, dup_ngram: float, hp: HygieneParams, lang: str):
    visible = n - len(_SPACE_RE.findall(text))
    if visible and len(_SYMBOL_RE.findall(text)) / visible > hp.max_symbol_ratio:
        return "too_many_symbols"
    if "\n" in text and _dup_line_ratio(text) > hp.max_dup_line_ratio:
        return "repeated_lines"
    if dup_ngram > hp.max_dup_ngram_ratio:
        return "repeated_ngrams"
    letters, han, latin = script_counts(text)
    if letters and (han if lang == "zh" else latin) / letters < hp.min_script_ratio:
        return "wrong_script"
    return None


def _dup_line_ratio(text: str) -> float:
    lines = [x.strip() for x in text.split("\n") if x.strip()]
    seen: Counter = Counter()
    dup = total = 0
    for line in lines:
        total += len(line)
        if seen[line]:
            dup += len(line)
        seen[line] += 1
    return dup / total if total else 0.0


def _dup_ngram_ratio(enc: Encoded, n: int) -> np.ndarray:
    """Per document: share of its character n-grams that already occurred earlier in it."""
    h, doc = enc.grams(n, _REPEAT_SALT)
    total = np.bincount(doc, minlength=enc.n_docs)
    if not len(h):
        return np.zeros(enc.n_docs)
    key = h ^ (doc.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93))
    _, first = np.unique(key, return_index=True)
    distinct = np.bincount(doc[first], minlength=enc.n_docs)
    return np.divide(total - distinct, total, out=np.zeros(enc.n_docs), where=total > 0)


def text_hashes(texts: list[str]) -> np.ndarray:
    """64-bit content hash per document, blind to whitespace differences."""
    return np.fromiter(
        (hash64(_SPACE_RE.sub("", t)) for t in texts), dtype=np.uint64, count=len(texts)
    )


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own affine permutations, so our signatures are datasketch MinHashes."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def minhash_signatures(enc: Encoded, shingle: int, perms: tuple[np.ndarray, np.ndarray]):
    """(n_docs, num_perm) uint32 MinHash signatures over character shingles, vectorised.

    A document shorter than one shingle keeps the empty signature (all max): callers skip
    near-duplicate checks for it (exact dedup still covers it).

    Equivalent to datasketch ``MinHash.update_batch`` on each document's shingles, with our
    64-bit shingle hashes standing in for its byte hashing (which would cost a Python call each).
    """
    a, b = perms
    sig = np.full((enc.n_docs, len(a)), np.iinfo(np.uint32).max, dtype=np.uint32)
    h, doc = enc.grams(shingle, _SHINGLE_SALT)
    if not len(h):
        return sig
    h32 = (h >> np.uint64(32)).astype(np.uint32)
    for start in range(0, len(h32), _MAX_CHUNK):
        hv, dv = h32[start : start + _MAX_CHUNK], doc[start : start + _MAX_CHUNK]
        phv = hv[:, None] * a[None, :] + b[None, :]  # uint32 arithmetic wraps mod 2^32
        cut = np.flatnonzero(np.r_[True, dv[1:] != dv[:-1]])
        mins = np.minimum.reduceat(phv, cut, axis=0)
        rows = dv[cut]
        sig[rows] = np.minimum(sig[rows], mins)
    return sig


class Deduper:
    """Exact and near-duplicate detection over a stream (datasketch MinHash LSH).

    Keeps one 64-bit hash per distinct document, plus the LSH index and signatures of documents
    that passed every filter: that (not the pool text) is the state that grows with the pool.
    Every LSH candidate is confirmed by its estimated Jaccard similarity before a merge.
    """

    def __init__(self, hp: HygieneParams) -> None:
        from datasketch import MinHashLSH

        self.hp = hp
        self.lsh = MinHashLSH(threshold=hp.near_dup_threshold, num_perm=hp.num_perm)
        self.seen: set[int] = set()
        self.seed_hashes: set[int] = set()
        self.sigs = np.zeros((1024, hp.num_perm), dtype=np.uint32)
        self.n_sigs = 0
        self.n_seed_sigs = 0

    def add_seed(self, hashes: np.ndarray, sigs: np.ndarray | None) -> None:
        self.seed_hashes.update(hashes.tolist())
        if sigs is not None and self.hp.near_dedup:
            for sig in sigs:
                self._insert(sig)
            self.n_seed_sigs = self.n_sigs

    def check(self, h: int, sig: np.ndarray | None) -> str | None:
        """The dedup reason of the next document, or None (it is then remembered)."""
        if h in self.seed_hashes:
            return "in_seed"
        if self.hp.exact_dedup:
            if h in self.seen:
                return "exact_dup"
            self.seen.add(h)
        if sig is None or not self.hp.near_dedup:
            return None
        match = self._match(sig)
        if match is not None:
            return "in_seed" if match < self.n_seed_sigs else "near_dup"
        self._insert(sig)
        return None

    def _match(self, sig: np.ndarray) -> int | None:
        cands = self.lsh.query(_lean(sig))
        best = None
        for key in cands:
            if float(np.mean(self.sigs[key] == sig)) >= self.hp.near_dup_threshold:
                best = key if best is None else min(best, key)
        return best

    def _insert(self, sig: np.ndarray) -> None:
        if self.n_sigs == len(self.sigs):
            self.sigs = np.concatenate([self.sigs, np.zeros_like(self.sigs)])
        self.sigs[self.n_sigs] = sig
        self.lsh.insert(
            self.n_sigs, _lean(sig), check_duplication=False
        )
        self.n_sigs += 1


def _lean(sig: np.ndarray):
    from datasketch import LeanMinHash

    # LeanMinHash skips regenerating permutations: ~30x cheaper than MinHash for a lookup.
    return LeanMinHash(seed=1, hashvalues=sig, scheme="affine32")
