"""English candidates: multi-word terms (2..max_words) and single words that the base vocabulary
splits into ``min_pieces`` or more WordPiece pieces; the scores are the ones of ``core`` with words
in place of characters.

Counting has one pure per-block function, ``count_block``, and two drivers: the local one
(``count_ngrams``: blocks of ``newwords.shard_mb`` of text in one process, merged in order) and
the Ray one (``english_ray.count_ray_en``: the same function on Ray Data blocks, hash-partitioned
exact merge). Both hand ``score_counts`` the same tables in the same order."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

import numpy as np

from components.newwords.core import Candidates
from components.newwords.params import NewwordsParams

# A word starts with a letter; digits and punctuation end a run (terms do not span them).
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*|\S")


def word_runs(text: str) -> Iterable[list[str]]:
    run: list[str] = []
    for tok in _TOKEN_RE.findall(text):
        if tok[0].isalpha() and tok.isascii():
            run.append(tok.lower())
        elif run:
            yield run
            run = []
    if run:
        yield run


def count_block(
    texts: Iterable[str], max_n: int, marks: list[tuple[int, ...]] | None = None
) -> list[Counter]:
    """counters[n-1][tuple of n words] of one block of texts, in first-seen order.

    ``marks`` (the Ray driver's): after each text, the size of every counter, i.e. which rows
    that text saw first; the shuffle loses order, and this is what restores it."""
    counters = [Counter() for _ in range(max_n)]
    for text in texts:
        for run in word_runs(text):
            for n in range(1, min(max_n, len(run)) + 1):
                counters[n - 1].update(tuple(run[i : i + n]) for i in range(len(run) - n + 1))
        if marks is not None:
            marks.append(tuple(len(c) for c in counters))
    return counters


def blocks(texts: Iterable[str], chars: int) -> Iterator[list[str]]:
    """Consecutive texts of about ``chars`` characters together (texts stay apart: a word run
    never spans two of them, which joining them with a newline would allow)."""
    buf: list[str] = []
    size = 0
    for t in texts:
        buf.append(t)
        size += len(t) + 1
        if size >= chars:
            yield buf
            buf, size = [], 0
    if buf:
        yield buf


def merge_into(total: list[Counter], block: list[Counter]) -> list[Counter]:
    """Exact sums. Counter.update adds a block's new keys after the known ones, in the block's
    order: merging blocks in input order keeps the first-seen order of one pass over all text."""
    for t, c in zip(total, block, strict=True):
        t.update(c)
    return total


def count_ngrams(texts: Iterable[str], max_n: int, block_chars: int = 2_000_000) -> list[Counter]:
    """counters[n-1][tuple of n words] (the local driver: blocks counted and merged in order)."""
    total: list[Counter] | None = None
    for block in blocks(texts, block_chars):
        counted = count_block(block, max_n)
        total = counted if total is None else merge_into(total, counted)
    return total if total is not None else [Counter() for _ in range(max_n)]


def wordpiece_count(word: str, vocab: set[str]) -> int | None:
    """Pieces of a greedy longest-match WordPiece split (None when a part is not in ``vocab``)."""
    pieces, start = 0, 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return None
        pieces += 1
        start = end
    return pieces


def en_candidates(
    texts: Iterable[str],
    background: Iterable[str] | None,
    p: NewwordsParams,
    vocab: set[str],
) -> Candidates:
    chars = int(p.shard_mb * 1e6)
    c = count_ngrams(texts, p.max_words + 1, chars)
    bg = count_ngrams(background, p.max_words, chars) if background is not None else None
    return score_counts(c, bg, p, vocab)


def score_counts(
    c: list[Counter], bg: list[Counter] | None, p: NewwordsParams, vocab: set[str], workers: int = 1
) -> Candidates:
    """Candidates from domain counts up to max_words + 1 words and background counts up to
    max_words (None: no background). Reads domain rows in table order (ties in the ranking keep
    it), so both drivers must give the same order, not only the same counts."""
    top = p.max_words + 1
    n_words = sum(c[0].values())
    right_s: dict[tuple, float] = defaultdict(float)
    left_s: dict[tuple, float] = defaultdict(float)
    right_m: dict[tuple, int] = defaultdict(int)
    left_m: dict[tuple, int] = defaultdict(int)
    for n in range(2, top + 1):
        for gram, k in c[n - 1].items():
            if k > 1:
                right_s[gram[:-1]] += k * math.log(k)
                left_s[gram[1:]] += k * math.log(k)
                right_m[gram[:-1]] = max(right_m[gram[:-1]], k)
                left_m[gram[1:]] = max(left_m[gram[1:]], k)
    rows = []
    lower_vocab = {v.lower() for v in vocab}
    for n in range(1, p.max_words + 1):
        for gram, k in c[n - 1].items():
            if k < p.min_count:
                continue
            if n == 1:
                pieces = wordpiece_count(gram[0], lower_vocab) if lower_vocab else None
                if pieces is None or pieces < p.min_pieces:
                    continue
                coh = p.min_cohesion  # no split point inside one word: neutral
            else:
                coh = min(
                    math.log(k * n_words / (c[i - 1][gram[:i]] * c[n - i - 1][gram[i:]]))
                    for i in range(1, n)
                )
            right = math.log(k) - right_s.get(gram, 0.0) / k
            left = math.log(k) - left_s.get(gram, 0.0) / k
            b = bg[n - 1].get(gram, 0) if bg is not None else 0
            rows.append(
                (" ".join(gram), k, coh, left, right, b, left_m.get(gram, 0), right_m.get(gram, 0))
            )
    n_bg = sum(bg[0].values()) if bg is not None else 0
    if not rows:
        return Candidates([], *(np.zeros(0) for _ in range(5)), n_words, n_bg)
    words, *cols = zip(*rows, strict=True)
    *arrays, lmax, rmax = (np.asarray(x, dtype=np.float64) for x in cols)
    return Candidates(
        list(words),
        *arrays,
        n_words,
        n_bg,
        stats={"workers": workers},
        left_max=lmax,
        right_max=rmax,
    )
