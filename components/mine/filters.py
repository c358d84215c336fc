"""Corpus hygiene: quality filters, content hashes and MinHash signatures (pure, per shard), and
the sequential deduplication that needs to see every earlier document (``Deduper``).

Reasons, in the order they are checked (the first that applies is recorded)::

    too_short  too_long  too_many_symbols  repeated_lines  repeated_ngrams  wrong_script
    in_seed (same or nearly the same text as a seed document)  exact_dup  near_dup
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter

import numpy as np

from components.data.text import hash64
from components.mine.features import HAN, LATIN, LETTER, SPACE, SYMBOL, Encoded, class_counts
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
_DENSIFY_STEP = np.uint32(0x9E3779B1)  # odd: borrowed values differ from every original


def quality_reasons(
    texts: list[str], enc: Encoded, hp: HygieneParams, lang: str
) -> list[str | None]:
    """The first failed quality filter of each document, or None."""
    counts = class_counts(enc)
    visible = enc.lengths - counts[SPACE]
    symbols = np.divide(counts[SYMBOL], visible, out=np.zeros(enc.n_docs), where=visible > 0)
    letters = counts[LETTER]
    script = counts[HAN if lang == "zh" else LATIN]
    script = np.divide(script, letters, out=np.ones(enc.n_docs), where=letters > 0)
    dup_ngram = _dup_ngram_ratio(enc, hp.dup_ngram_size)
    out: list[str | None] = []
    for i, text in enumerate(texts):
        n = len(text)
        reason = None
        if n < hp.min_chars:
            reason = "too_short"
        elif n > hp.max_chars:
            reason = "too_long"
        elif symbols[i] > hp.max_symbol_ratio:
            reason = "too_many_symbols"
        elif "\n" in text and _dup_line_ratio(text) > hp.max_dup_line_ratio:
            reason = "repeated_lines"
        elif dup_ngram[i] > hp.max_dup_ngram_ratio:
            reason = "repeated_ngrams"
        elif script[i] < hp.min_script_ratio:
            reason = "wrong_script"
        out.append(reason)
    return out


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
    """Per document: share of its character n-grams that already occurred earlier in it.

    Estimated on the n-grams whose hash falls in 1/8 of the hash space: every occurrence of a
    sampled n-gram is sampled too, so repeats are still seen, and the sort costs 8x less.
    """
    h, doc = enc.grams(n, _REPEAT_SALT)
    keep = (h & np.uint64(7)) == 0
    h, doc = h[keep], doc[keep]
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
        (hash64("".join(t.split())) for t in texts), dtype=np.uint64, count=len(texts)
    )


def minhash_signatures(enc: Encoded, shingle: int, num_perm: int) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures over character shingles, vectorised.

    One-permutation hashing (Li et al. 2012): each shingle hash picks a bin and the bin keeps
    its minimum, so the cost is O(shingles) instead of O(shingles x num_perm) -- the classic
    k-permutation MinHash was 80% of a shard's time. Empty bins (short documents) borrow the
    next non-empty bin to the right, offset by the distance (rotation densification, Shrivastava
    & Li 2014), which keeps P[bin equal] = Jaccard. The index is ``Deduper``'s band dicts (the same
    candidates as datasketch's MinHashLSH). A document shorter than one shingle keeps the empty signature (all max):
    callers skip near-duplicate checks for it (exact dedup still covers it).
    """
    empty_value = np.iinfo(np.uint32).max
    sig = np.full((enc.n_docs, num_perm), empty_value, dtype=np.uint32)
    h, doc = enc.grams(shingle, _SHINGLE_SALT)
    if not len(h):
        return sig
    bins = ((h >> np.uint64(32)) % np.uint64(num_perm)).astype(np.int64)
    values = (h & np.uint64(0xFFFFFFFE)).astype(np.uint32)  # never the empty marker
    np.minimum.at(sig.reshape(-1), doc * num_perm + bins, values)
    empty = sig == empty_value
    rows = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if len(rows):
        sub, mask = sig[rows], ~empty[rows]
        pos = np.arange(2 * num_perm)
        filled = np.where(np.concatenate([mask, mask], axis=1), pos, 4 * num_perm)
        nxt = np.minimum.accumulate(filled[:, ::-1], axis=1)[:, ::-1][:, :num_perm]
        dist = (nxt - pos[:num_perm]).astype(np.uint32)
        borrowed = sub[np.arange(len(rows))[:, None], nxt % num_perm] + dist * _DENSIFY_STEP
        sig[rows] = np.where(mask, sub, borrowed)
    return sig


@functools.cache
def lsh_bands(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> tuple:
    """(bands, rows) minimising fp_weight * P(false positive) + fn_weight * P(false negative),
    integrated over the Jaccard similarity: datasketch's ``_optimal_param`` criterion.

    Both integrands are polynomials of degree b*r <= num_perm, so Gauss-Legendre quadrature
    with num_perm/2 + 1 nodes is exact; this avoids importing datasketch and scipy (about a
    second per run, a large share on a pool of short documents).
    """
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def nodes(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        return (hi - lo) / 2 * x + (hi + lo) / 2, (hi - lo) / 2 * w

    (s_fp, w_fp), (s_fn, w_fn) = nodes(0.0, threshold), nodes(threshold, 1.0)
    best, opt = math.inf, (0, 0)
    for b in range(1, num_perm + 1):
        r = np.arange(1, num_perm // b + 1)[:, None]
        fp = ((1 - (1 - s_fp**r) ** b) * w_fp).sum(axis=1)
        fn = (((1 - s_fn**r) ** b) * w_fn).sum(axis=1)
        err = fp * fp_weight + fn * fn_weight
        i = int(np.argmin(err))  # the first minimum, as datasketch's strict comparison
        if err[i] < best:
            best, opt = float(err[i]), (b, int(r[i, 0]))
    return opt


def band_layout(hp: HygieneParams) -> tuple[int, int]:
    """(bands, rows per band) of the LSH index: ``Deduper``'s and the Ray engine's shuffle key."""
    w = hp.lsh_recall_weight
    return lsh_bands(hp.near_dup_threshold, hp.num_perm, 1 - w, w)


class Deduper:
    """Exact and near-duplicate detection over a stream (MinHash LSH banding).

    Remembers each clean document: its 64-bit hash, and its band keys and signature (a few
    hundred bytes to a few KB, the LSH dicts): the only state that grows with the pool.
    Past ``dedup_max_docs`` remembered documents new ones are still checked against the index
    but no longer added, so memory stays bounded. Every LSH candidate is confirmed by its
    estimated Jaccard similarity before a merge.
    """

    def __init__(self, hp: HygieneParams) -> None:
        self.hp = hp
        # Candidates are confirmed by signature agreement, so banding favours recall. The band
        # layout (b bands of r values) is the one datasketch's MinHashLSH would choose; the
        # index itself is b plain dicts from a band's bytes to the documents having it: the
        # same candidates as MinHashLSH (exact band equality) at a fraction of its
        # per-document Python cost, which dominated short-document pools (issue 17).
        self.bands, self.rows = band_layout(hp)
        # band bytes -> a document id, or a list of them once a band is shared (most are not)
        self.index: list[dict[bytes, int | list[int]]] = [{} for _ in range(self.bands)]
        self.seen: set[int] = set()
        self.seed_hashes: set[int] = set()
        self.sigs = np.zeros((1024, hp.num_perm), dtype=np.uint32)
        self.n_sigs = 0
        self.n_seed_sigs = 0
        self.unindexed = 0  # clean documents not remembered because the index was full

    def add_seed(self, hashes: np.ndarray, sigs: np.ndarray | None) -> None:
        self.seed_hashes.update(hashes.tolist())
        if sigs is not None and self.hp.near_dedup:
            cap = self.hp.dedup_max_docs or len(sigs)
            for sig in sigs[:cap]:
                self._insert(sig)
            self.n_seed_sigs = self.n_sigs

    def check(self, h: int, sig: np.ndarray | None) -> str | None:
        """The dedup reason of the next document, or None (it is then remembered)."""
        if h in self.seed_hashes:
            return "in_seed"
        full = bool(self.hp.dedup_max_docs) and len(self.seen) >= self.hp.dedup_max_docs
        if self.hp.exact_dedup and h in self.seen:
            return "exact_dup"
        if sig is not None and self.hp.near_dedup:
            match = self._match(sig)
            if match is not None:
                return "in_seed" if match < self.n_seed_sigs else "near_dup"
        if full:
            self.unindexed += 1
            return None
        self.seen.add(h)
        if sig is not None and self.hp.near_dedup:
            self._insert(sig)
        return None

    def _band_keys(self, sig: np.ndarray) -> list[bytes]:
        r = self.rows
        raw = np.ascontiguousarray(sig[: self.bands * r]).tobytes()
        return [raw[i * 4 * r : (i + 1) * 4 * r] for i in range(self.bands)]

    def _match(self, sig: np.ndarray) -> int | None:
        cands: set[int] = set()
        for table, key in zip(self.index, self._band_keys(sig), strict=True):
            hit = table.get(key)
            if hit is None:
                continue
            if isinstance(hit, list):
                cands.update(hit)
            else:
                cands.add(hit)
        best = None
        for key in cands:
            if float(np.mean(self.sigs[key] == sig)) >= self.hp.near_dup_threshold:
                best = key if best is None else min(best, key)
        return best

    def _insert(self, sig: np.ndarray) -> None:
        if self.n_sigs == len(self.sigs):
            self.sigs = np.concatenate([self.sigs, np.zeros_like(self.sigs)])
        self.sigs[self.n_sigs] = sig
        n = self.n_sigs
        for table, key in zip(self.index, self._band_keys(sig), strict=True):
            prev = table.get(key)
            if prev is None:
                table[key] = n
            elif isinstance(prev, list):
                prev.append(n)
            else:
                table[key] = [prev, n]
        self.n_sigs += 1
