"""English candidates: multi-word terms (2..max_words) and single words that the base vocabulary
splits into ``min_pieces`` or more WordPiece pieces; the scores are the ones of ``core`` with words
in place of characters.

Counting has one pure per-block function, ``count_block``, and two drivers: the local one
(``count_ngrams``: blocks of ``newwords.shard_mb`` of text in one process, merged in order) and
the Ray one (``english_ray``: the same function on Ray Data blocks, hash-partitioned exact
merge). Scoring has one per-candidate function, ``candidate_row``: the local ``score_counts``
calls it over whole tables, the Ray driver inside each partition (``english_ray_scores``)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator

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


class Sides:
    """Per parent n-gram, over its one-word extensions of count > 1 (a single occurrence adds
    1*log 1 = 0 and never tops the max): the sum of k*log(k) and the largest k, on the right
    (gram + x) and on the left (x + gram). Sums are float additions in call order, so both
    drivers add a parent's extensions in the local table order (first seen first)."""

    def __init__(self) -> None:
        self.right_s: dict[tuple, float] = defaultdict(float)
        self.left_s: dict[tuple, float] = defaultdict(float)
        self.right_m: dict[tuple, int] = defaultdict(int)
        self.left_m: dict[tuple, int] = defaultdict(int)

    def add_right(self, child: tuple, k: int) -> None:
        parent = child[:-1]
        self.right_s[parent] += k * math.log(k)
        self.right_m[parent] = max(self.right_m[parent], k)

    def add_left(self, child: tuple, k: int) -> None:
        parent = child[1:]
        self.left_s[parent] += k * math.log(k)
        self.left_m[parent] = max(self.left_m[parent], k)


def candidate_row(
    gram: tuple,
    k: int,
    count_of: Callable[[tuple], int],
    sides: Sides,
    bg_count: int,
    n_words: int,
    p: NewwordsParams,
    lower_vocab: set[str],
) -> tuple | None:
    """One candidate's (word, freq, cohesion, left, right, background freq, left max, right
    max), or None for a single word the base vocabulary keeps in fewer than ``min_pieces``
    pieces. ``count_of``: the domain count of a sub-gram (at least as frequent as ``gram``)."""
    n = len(gram)
    if n == 1:
        pieces = wordpiece_count(gram[0], lower_vocab) if lower_vocab else None
        if pieces is None or pieces < p.min_pieces:
            return None
        coh = p.min_cohesion  # no split point inside one word: neutral
    else:
        coh = min(
            math.log(k * n_words / (count_of(gram[:i]) * count_of(gram[i:]))) for i in range(1, n)
        )
    right = math.log(k) - sides.right_s.get(gram, 0.0) / k
    left = math.log(k) - sides.left_s.get(gram, 0.0) / k
    lmax, rmax = sides.left_m.get(gram, 0), sides.right_m.get(gram, 0)
    return " ".join(gram), k, coh, left, right, bg_count, lmax, rmax


def candidates_of(rows: list[tuple], n_words: int, n_bg: int, workers: int) -> Candidates:
    """``candidate_row`` rows as the scorer's columns."""
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


def score_counts(
    c: list[Counter], bg: list[Counter] | None, p: NewwordsParams, vocab: set[str], workers: int = 1
) -> Candidates:
    """Candidates from domain counts up to max_words + 1 words and background counts up to
    max_words (None: no background), in table order (length, then first seen; ties in the
    ranking keep it). The Ray driver scores the same rows inside its partitions
    (``english_ray_scores``) with ``candidate_row``."""
    n_words = sum(c[0].values())
    sides = Sides()
    for n in range(2, p.max_words + 2):
        for gram, k in c[n - 1].items():
            if k > 1:
                sides.add_right(gram, k)
                sides.add_left(gram, k)
    lower_vocab = {v.lower() for v in vocab}

    def count_of(gram: tuple) -> int:
        return c[len(gram) - 1][gram]

    rows = []
    for n in range(1, p.max_words + 1):
        b = bg[n - 1] if bg is not None else {}
        for gram, k in c[n - 1].items():
            if k >= p.min_count:
                row = candidate_row(
                    gram, k, count_of, sides, b.get(gram, 0), n_words, p, lower_vocab
                )
                if row is not None:
                    rows.append(row)
    n_bg = sum(bg[0].values()) if bg is not None else 0
    return candidates_of(rows, n_words, n_bg, workers)
