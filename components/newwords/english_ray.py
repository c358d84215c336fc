"""Exact English word n-gram counting on Ray Data: the design of ``ray_counting.py`` with words.

1. map     each block of documents -> ``english.count_block`` (the local driver's own per-block
           function); rows split by a stable hash of the n-gram into ``parts`` partitions. Domain
           rows carry where the block first saw them (file, line, rank in the block).
2. shuffle ``ray_counting.shuffled`` (``groupby(part)``, Ray Data's sort shuffle).
3. reduce  per partition: exact sums (first-seen: the earliest), no pruning; then the rows no
           score can read are dropped (below).
4. gather  per length, the partitions' disjoint rows sorted by first-seen position: the tables
           come back in the order of one local pass over the text, and ``english.score_counts``
           scores them. Order matters, not only counts: the ranking breaks score ties by table
           order and the entropy sums add floats in it, so the lexicon equals the local one.

What the reduce drops (it changes no score, as in the Chinese reduce): ``score_counts`` reads
domain n-grams of count >= min_count (candidates, up to max_words words), their sub-grams (at
least as frequent) and n-grams of count > 1 (neighbour entropy; a single occurrence adds 1*log 1
= 0 and the subsumption max only counts rows above 1), so domain rows of count 1 go, except
candidates when min_count is 1 and single words (their sum is the number of words). Background
counts are only looked up for domain candidates, and an n-gram's domain and background rows
share a partition, so other background rows of 2+ words go too.
"""

from __future__ import annotations

import pickle
import time
import zlib
from collections import Counter

import numpy as np

from components.data.raydata import batch_lines, file_indices
from components.newwords.english import count_block
from components.newwords.ray_counting import partitions_of, shuffle_stats, shuffled

# First-seen position packed into one int (sorts and pickles cheaper than tuples):
# file index, line, document of the line, rank of the row in its block's table.
_LINE, _SUB, _RANK = 1 << 40, 1 << 16, 1 << 40


def part_of(gram: tuple[str, ...], parts: int) -> int:
    """Stable across processes (``hash()`` of str is salted per process, so it cannot be used)."""
    return zlib.crc32("\x00".join(gram).encode("utf-8")) % parts


def _keyed_texts(batch: dict, files: dict[str, int]) -> tuple[list[int], list[str]]:
    """(first-seen base key, text) of a batch's documents, in input order."""
    docs = [
        (((files[path] * _LINE + lineno) * _SUB + sub) * _RANK, doc.text)
        for path, lineno, sub, _, doc in batch_lines(batch)
    ]
    # Ray Data keeps input order here (preserve_order); sorting makes the first-seen keys right
    # even for a batch assembled out of order, at no cost when it is in order.
    docs.sort(key=lambda d: d[0])
    return [k for k, _ in docs], [t for _, t in docs]


def count_block_en(batch: dict, role: str, max_n: int, parts: int, files: dict[str, int]) -> dict:
    """Map: one block's tables, one output row per partition (pickled, in memory only)."""
    keys, texts = _keyed_texts(batch, files)
    marks: list[tuple[int, ...]] = []
    counters = count_block(texts, max_n, marks)
    by_part = [[([], [], []) for _ in range(max_n)] for _ in range(parts)]
    for n, counter in enumerate(counters):
        doc = 0
        for rank, (gram, k) in enumerate(counter.items()):
            while marks[doc][n] <= rank:  # the text that added this row first
                doc += 1
            grams, counts, firsts = by_part[part_of(gram, parts)][n]
            grams.append(gram)
            counts.append(k)
            if role == "domain":
                firsts.append(keys[doc] + rank)
    return {
        "part": np.arange(parts),
        "payload": [pickle.dumps((role, tables), protocol=5) for tables in by_part],
    }


def merge_partition_en(group: dict, max_words: int, min_count: int) -> dict:
    """Reduce: one partition's exact tables, with what scoring cannot read dropped."""
    domain: list[dict] = [{} for _ in range(max_words + 1)]  # gram -> [count, first seen]
    background = [Counter() for _ in range(max_words)]
    volume = 0
    for blob in group["payload"]:
        volume += len(blob)
        role, tables = pickle.loads(blob)
        for n, (grams, counts, firsts) in enumerate(tables):
            if role == "background":
                background[n].update(dict(zip(grams, counts, strict=True)))
                continue
            table = domain[n]
            for gram, k, first in zip(grams, counts, firsts, strict=True):
                row = table.get(gram)
                if row is None:
                    table[gram] = [k, first]
                else:
                    row[0] += k
                    row[1] = min(row[1], first)
    d_out, b_out = [], []
    for n, table in enumerate(domain):
        rows = [
            (g, k, f)
            for g, (k, f) in table.items()
            if n == 0 or k > 1 or (n < max_words and k >= min_count)
        ]
        d_out.append(tuple(list(x) for x in zip(*rows, strict=True)) if rows else ([], [], []))
    for n, table in enumerate(background):
        cand = domain[n]
        rows = [
            (g, k) for g, k in table.items() if n == 0 or (g in cand and cand[g][0] >= min_count)
        ]
        b_out.append(tuple(list(x) for x in zip(*rows, strict=True)) if rows else ([], []))
    return {
        "part": [int(group["part"][0])],
        "payload": [pickle.dumps((d_out, b_out), protocol=5)],
        "shuffle_bytes": [volume],
    }


def _gather_domain(results: list, n: int) -> Counter:
    grams, counts, firsts = [], [], []
    for d_out, _ in results:
        g, k, f = d_out[n]
        grams += g
        counts += k
        firsts += f
    order = sorted(range(len(grams)), key=firsts.__getitem__)  # first-seen keys are unique
    # Counter(dict) keeps the dict's insertion order: the local pass's order.
    return Counter({grams[i]: counts[i] for i in order})


def _gather_background(results: list, n: int) -> Counter:
    out = Counter()
    for _, b_out in results:  # disjoint partitions: no sums; only looked up, order unused
        out.update(dict(zip(*b_out[n], strict=True)))
    return out


def gather(
    results: list, max_words: int, background: bool
) -> tuple[list[Counter], list[Counter] | None]:
    """Step 4: the reduce payloads of every partition -> (domain, background or None) tables."""
    domain = [_gather_domain(results, n) for n in range(max_words + 1)]
    if not background:
        return domain, None
    return domain, [_gather_background(results, n) for n in range(max_words)]


def count_ray_en(
    domain_paths: list[str],
    background_paths: list[str],
    *,
    max_words: int,
    min_count: int,
    batch_docs: int,
    parts: int = 0,
) -> tuple[list[Counter], list[Counter] | None, int, dict]:
    """(domain counters up to max_words + 1 words, background counters up to max_words or None
    without a background, partitions, shuffle statistics): what ``english.count_ngrams`` gives
    the local driver, less rows no score reads."""
    start = time.perf_counter()
    # lines_dataset reads absolute paths; its ``path`` column is what the map looks up.
    files = file_indices([*domain_paths, *background_paths])
    reduced, parts = shuffled(
        [
            (domain_paths, {"role": "domain", "max_n": max_words + 1, "files": files}),
            (background_paths, {"role": "background", "max_n": max_words, "files": files}),
        ],
        count_block_en,
        merge_partition_en,
        {"max_words": max_words, "min_count": min_count},
        batch_docs=batch_docs,
        parts=parts,
    )
    results, volume = partitions_of(reduced)
    domain, background = gather(results, max_words, bool(background_paths))
    return domain, background, parts, shuffle_stats(parts, volume, start)
