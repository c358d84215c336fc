"""Exact English word n-gram counting on Ray Data: the design of ``ray_counting.py`` with words.

1. map     each block of documents -> ``english.count_block`` (the local driver's own per-block
           function); rows split by a stable hash of the n-gram into ``parts`` partitions. Domain
           rows carry where the block first saw them (file, line, rank in the block).
2. shuffle ``ray_counting.shuffled`` (``groupby(part)``, Ray Data's sort shuffle).
3. reduce  per partition: exact sums (first-seen: the earliest), no pruning; then the rows no
           score can read are dropped (below).
4. sides   a second shuffle sends each extension row of count > 1 to its parents' partitions
           (as ``ray_sides`` does for characters), where the neighbour sums of the candidates
           are added in first-seen order: the local table's order, so the same float bits.
5-7.       cohesion, scores and each partition's top_k in the partitions
           (``english_ray_scores``): the driver gets the top rows, never the tables.

Order matters, not only counts: the ranking breaks score ties by table order (length, then first
seen) and the entropy sums add floats in it, so every step keeps it and the lexicon equals the
local one byte for byte.

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
import zlib
from collections import Counter

import numpy as np

from components.data.raydata import batch_lines, file_indices
from components.newwords.english import Sides, count_block
from components.newwords.ray_counting import Outbox, batch_rows, inbox, shuffled

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


def _own_rows(table: tuple, min_count: int) -> tuple[list, list, list]:
    """(grams, counts, first seen) of a reduced domain table's rows of count >= min_count, in
    first-seen order: the candidates of one length, in the local table's order."""
    rows = sorted((f, g, k) for g, k, f in zip(*table, strict=True) if k >= min_count)
    return [g for _, g, _ in rows], [k for *_, k in rows], [f for f, *_ in rows]


def route_en(batch: dict, parts: int, max_words: int, min_count: int) -> dict:
    """Map (second shuffle): a counted partition -> its candidates, unit totals and background
    counts (to itself), and each extension row of count > 1 to the partitions of its parents
    (``gram[:-1]``: right neighbours; ``gram[1:]``: left neighbours)."""
    out = Outbox()
    for part, blob, volume in batch_rows(batch):
        d_out, b_out = pickle.loads(blob)
        own = [_own_rows(d_out[n], min_count) for n in range(max_words)]
        cands = {g for grams, _, _ in own for g in grams}
        bg = {
            g: k
            for grams, counts in b_out
            for g, k in zip(grams, counts, strict=True)
            if g in cands
        }
        units = (sum(d_out[0][1]), sum(b_out[0][1]))
        out.keep(part, pickle.dumps((own, bg, units), protocol=5), volume)
        ext: dict[int, list] = {}
        for n in range(1, max_words + 1):  # children of 2..max_words + 1 words
            for g, k, f in zip(*d_out[n], strict=True):
                if k > 1:  # a candidate of count 1 (min_count 1) is no neighbour
                    ext.setdefault(part_of(g[:-1], parts), []).append(("r", n, f, g, k))
                    ext.setdefault(part_of(g[1:], parts), []).append(("l", n, f, g, k))
        for r, rows in ext.items():
            out.send(r, ("ext", rows))
    return out.rows


def finish_en(group: dict) -> dict:
    """Reduce: a partition's candidates with their neighbour sums, added in the local order
    (extensions sorted by first-seen position, per length) so the floats are the local bits."""
    part, _, own, messages, volume = inbox(group)  # volume: the extension rows' bytes too
    if own is None:  # every partition routes its own rows, even none
        raise RuntimeError(f"new words: partition {part} lost its own rows")
    rows, bg, units = own
    ext = [e for _, sent in messages for e in sent]
    cands = {g for grams, _, _ in rows for g in grams}
    sides = Sides()
    for side, _, _, g, k in sorted(ext, key=lambda e: (e[1], e[2])):  # (length, first seen)
        if side == "r" and g[:-1] in cands:
            sides.add_right(g, k)
        elif side == "l" and g[1:] in cands:
            sides.add_left(g, k)
    return {
        "part": [part],
        "payload": [pickle.dumps((rows, bg, sides), protocol=5)],
        "shuffle_bytes": [volume],
        "units_domain": [units[0]],
        "units_background": [units[1]],
    }


def counted_en(
    domain_paths: list[str],
    background_paths: list[str],
    *,
    max_words: int,
    min_count: int,
    batch_docs: int,
    parts: int = 0,
):
    """Steps 1-4 as a lazy Ray Dataset, one row per partition (its candidates in the local
    order, their background counts and neighbour sums, the partition's unit totals), and the
    number of partitions."""
    # lines_dataset reads absolute paths; its ``path`` column is what the map looks up.
    files = file_indices([*domain_paths, *background_paths])
    return shuffled(
        [
            (domain_paths, {"role": "domain", "max_n": max_words + 1, "files": files}),
            (background_paths, {"role": "background", "max_n": max_words, "files": files}),
        ],
        count_block_en,
        merge_partition_en,
        {"max_words": max_words, "min_count": min_count},
        batch_docs=batch_docs,
        parts=parts,
        then=(route_en, finish_en, {"max_words": max_words, "min_count": min_count}),
    )
