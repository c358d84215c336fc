"""Cohesion, scores and the ranking inside the partitions (Chinese, ``engine: ray``): the driver
gathers each partition's best ``top_k`` rows and a few sums, never the candidates.

After the counting and neighbour shuffles (``ray_counting``, ``ray_sides``) each partition holds
its candidates (count >= min_count) with their neighbour columns, its length-1 rows and the
background rows of its candidates. Cohesion of a candidate ``w`` of n characters reads the counts
of its prefixes ``w[:j]`` and suffixes ``w[n-j:]``, whose rows are in other partitions. The
candidates carry their characters (keys of up to 4 characters are packed character ids; longer
rows carry ``head``/``tail``, ``counting.CHAR_FIELDS``), so every substring key is computed where
the candidate is, and two more shuffles fetch the counts:

5. ask     each partition sends the distinct substring keys it needs to their partitions;
6. answer  each partition looks them up in its own rows (a substring of a candidate is at least as
           frequent, so it is a candidate or a length-1 row, and present) and sends the counts back;
7. score   each partition builds its candidates with the local formulas
           (``core.CandidateColumns``), filters and scores them (``core.keep_order``) and returns
           its best ``top_k`` rows with their (score, length, key), the filter counts, the number
           of candidates and the reference words it holds.

The driver sorts the partitions' rows by (score descending, length, key), which is the local
order (candidates in length-then-key order, a stable sort by score), and keeps ``top_k``. The
floats are the local ones bit for bit: the same element-wise numpy expressions on the same counts.
"""

from __future__ import annotations

import pickle
import time
from collections import Counter

import numpy as np

from components.newwords import core
from components.newwords.counting import CHAR_FIELDS, extend, lookup, partition_of
from components.newwords.ray_counting import Outbox, batch_rows, inbox

_MASK = np.uint64(0xFFFF)


def chars_of(t: dict, n: int) -> np.ndarray:
    """Character ids (rows x n) of a table of n-grams: unpacked from the key up to 4
    characters, from ``head``/``tail`` above."""
    if not len(t["keys"]):
        return np.zeros((0, n), dtype=np.uint64)
    if n <= 4:
        k = t["keys"]
        cols = [(k >> np.uint64(16 * (n - 1 - j))) & _MASK for j in range(n)]
    else:
        head, tail = (t[f] for f in CHAR_FIELDS)
        cols = [(head >> np.uint64(16 * (3 - j))) & _MASK for j in range(4)]
        cols += [(tail >> np.uint64(16 * (n - 5 - j))) & _MASK for j in range(n - 4)]
    return np.stack(cols, axis=1)


def sub_key(ids: np.ndarray, a: int, b: int) -> np.ndarray:
    """Keys of the substrings ``ids[:, a:b]`` (what ``counting.shard_tables`` keys them by)."""
    key = ids[:, a].copy()
    for j in range(a + 1, b):
        key = extend(key, ids[:, j], j - a + 1)
    return key


def _substrings(own: list[dict], max_len: int):
    """Per candidate length n: (ids, {j: prefix keys}, {j: suffix keys}) for j = 1..n-1."""
    for n in range(2, max_len + 1):
        ids = chars_of(own[n - 1], n)
        pre = {j: sub_key(ids, 0, j) for j in range(1, n)}
        suf = {j: sub_key(ids, n - j, n) for j in range(1, n)}
        yield n, ids, pre, suf


def ask(batch: dict, parts: int, max_len: int) -> dict:
    """Map: each partition's own rows (to itself) and the substring keys it needs (to theirs)."""
    out = Outbox()
    for part, blob, volume in batch_rows(batch):
        own, _ = pickle.loads(blob)
        needed: dict[int, list[np.ndarray]] = {}
        for _, _, pre, suf in _substrings(own, max_len):
            for j in pre:
                needed.setdefault(j, []).extend((pre[j], suf[j]))
        asks: dict[int, dict[int, np.ndarray]] = {}
        for j, arrays in needed.items():
            keys = np.unique(np.concatenate(arrays))
            dest = partition_of(keys, parts)
            for r in np.unique(dest).tolist():
                asks.setdefault(r, {})[j] = keys[dest == r]
        out.keep(part, blob, volume)
        for r, by_len in asks.items():
            out.send(r, ("ask", int(part), by_len))
    return out.rows


def answer(group: dict) -> dict:
    """Reduce: the counts of the keys other partitions asked for, sent back to them."""
    part, own_blob, own, asks, volume = inbox(group)
    out = Outbox()
    if own is not None:  # no rows hashed here: nothing asked for exists (not found, as locally)
        out.keep(part, own_blob, volume)
        own = own[0]
    for _, src, by_len in asks:
        reply = {}
        for j, keys in by_len.items():
            if own is None or not len(own[j - 1]["keys"]):
                continue
            idx, found = lookup(own[j - 1], keys)
            reply[j] = (keys[found], own[j - 1]["counts"][idx[found]])
        out.send(src, ("reply", reply))
    return out.rows


def _counts(got: dict[int, tuple], j: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(count, found) of substring keys of j characters; 1 where not found (the local default)."""
    if j not in got or not len(got[j][0]):  # nothing of that length exists (or was asked)
        return np.ones(len(keys)), np.zeros(len(keys), dtype=bool)
    idx, found = lookup({"keys": got[j][0]}, keys)
    return np.where(found, got[j][1][idx], 1).astype(np.float64), found


def score_partition(group: dict, n_domain: int, n_bg: int, ref) -> dict:
    """Reduce: one partition's candidates scored and ranked; its best ``top_k`` rows."""
    import ray

    p, exclude, stop, reference = ray.get(ref)
    part, _, mine, messages, volume = inbox(group)
    if mine is None:  # replies only reach partitions that asked, which have rows
        raise RuntimeError(f"new words: partition {part} got replies but no rows")
    own, bg = mine
    replies: dict[int, list] = {}
    for _, by_len in messages:
        for j, pair in by_len.items():
            replies.setdefault(j, []).append(pair)
    got = {}
    for j, pairs in replies.items():
        keys = np.concatenate([k for k, _ in pairs])
        counts = np.concatenate([c for _, c in pairs])
        order = np.argsort(keys, kind="stable")
        got[j] = (keys[order], counts[order])
    acc = core.CandidateColumns()
    for n, ids, pre, suf in _substrings(own, p.max_len):
        t = own[n - 1]  # candidates only: ray_sides kept the rows of count >= min_count
        if not len(t["keys"]):
            continue
        ok = np.ones(len(t["keys"]), dtype=bool)
        pre_c, suf_c = {}, {}
        for j in range(1, n):
            pre_c[j], f = _counts(got, j, pre[j])
            ok &= f
            suf_c[j], f = _counts(got, j, suf[j])
            ok &= f
        sides = tuple(t[k] for k in core.SIDE_COLUMNS)
        c = t["counts"].astype(np.float64)
        acc.add(n, t["keys"], c, sides, pre_c, suf_c, ids, ok, n_domain, bg[n - 1])
    cand = acc.candidates(n_domain, n_bg, {})
    top: list = []
    filtered: dict = {}
    if cand.words:
        static = core.word_masks(cand, exclude, stop, "zh")
        order, masks, (score, domain, _) = core.keep_order(cand, p, static)
        lengths, keys = np.concatenate(acc.lengths), np.concatenate(acc.keys)
        rows = core.lexicon_rows(cand, order, score, domain)
        top = [
            (float(score[i]), int(lengths[i]), int(keys[i]), row)
            for i, row in zip(order, rows, strict=True)
        ]
        filtered = {k: int(v.sum()) for k, v in masks.items()}
    found = core.occurring_in(own, reference, p.min_count)  # as zh_occurring, on this partition
    result = {"top": top, "candidates": len(cand.words), "filtered": filtered, "found": found}
    return {
        "part": [part],
        "payload": [pickle.dumps(result, protocol=5)],
        "shuffle_bytes": [volume],
    }


def global_top(top: list[tuple], k: int) -> list[tuple]:
    """The best ``k`` of the partitions' (score, length, key, row) in the local order: by score
    descending, ties by length then key (the order of the local candidate table, whose stable
    sort by score keeps it)."""
    return sorted(top, key=lambda r: (-r[0], r[1], r[2]))[:k]


def collect(scored, top_k: int) -> tuple[core.Ranked, set[str], int]:
    """The driver's part (zh and en): the partitions' top rows merged into the best ``top_k`` in
    the local order, their filter counts and candidates summed, the reference words they found
    (``score_partition`` results); and the bytes shuffled."""
    top, filtered, volume, candidates = [], Counter(), 0, 0
    occurring: set[str] = set()
    for r in scored.iter_rows():
        result = pickle.loads(r["payload"])
        volume += int(r["shuffle_bytes"])
        top += result["top"]
        if len(top) > 4 * top_k:  # the driver holds a few top_k rows, however many partitions
            top = global_top(top, top_k)
        filtered.update(result["filtered"])  # every partition has the same keys, in one order
        candidates += result["candidates"]
        occurring.update(result["found"])
    rows = [row for *_, row in global_top(top, top_k)]
    return core.Ranked(rows, candidates, dict(filtered) if candidates else {}), occurring, volume


def score_shuffles(
    counted, parts: int, ask_fn: tuple, answer_fn, score_fn: tuple, top_k: int
) -> tuple[core.Ranked, set[str], int]:
    """Steps 5-7 and the driver's merge over a dataset of one row per counted partition:
    ``ask_fn`` and ``score_fn`` are (function, keyword arguments)."""
    (ask_f, ask_kw), (score_f, score_kw) = ask_fn, score_fn
    asked = counted.map_batches(ask_f, batch_format="numpy", fn_kwargs={"parts": parts, **ask_kw})
    answered = asked.groupby("part", num_partitions=parts).map_groups(
        answer_fn, batch_format="numpy"
    )
    scored = answered.groupby("part", num_partitions=parts).map_groups(
        score_f, batch_format="numpy", fn_kwargs=score_kw
    )
    return collect(scored, top_k)


def _unit_sums(batch: dict) -> dict:
    """Per partition: its length-1 domain and background totals (the units of each side)."""
    dom, bgs = [], []
    for blob in batch["payload"]:
        own, bg = pickle.loads(blob)
        dom.append(int(own[0]["counts"].sum()))
        bgs.append(int(bg[0]["counts"].sum()))
    return {"domain": np.array(dom, dtype=np.int64), "background": np.array(bgs, dtype=np.int64)}


def rank_ray(
    domain_paths: list[str],
    background_paths: list[str],
    p,
    exclude: set[str],
    stop: set[str],
    reference: set[str] | None,
    *,
    batch_docs: int,
    chunk_chars: int,
    parts: int = 0,
) -> tuple[core.Ranked, dict]:
    """(the ranking ``core.rank`` gives on the exact counts, facts: units of each side, the
    reference words that occur often enough (None without a reference), shuffle statistics)."""
    import ray

    from components.newwords.ray_counting import (
        count_block,
        merge_partition,
        shuffle_stats,
        shuffled,
    )
    from components.newwords.ray_sides import finish_partition, route_partition

    start = time.perf_counter()
    max_len = p.max_len + 1  # tables one longer than a candidate: its extensions
    kw = {"max_len": max_len, "chunk_chars": chunk_chars}
    counted, parts = shuffled(
        [
            (domain_paths, {"role": "domain", **kw}),
            (background_paths, {"role": "background", **kw}),
        ],
        count_block,
        merge_partition,
        {"max_len": max_len, "min_count": p.min_count},
        batch_docs=batch_docs,
        parts=parts,
        then=(route_partition, finish_partition, {"min_count": p.min_count}),
    )
    counted = counted.materialize()  # read twice: the unit totals, then the scoring shuffles
    n_domain = n_bg = 0
    for b in counted.map_batches(_unit_sums, batch_format="numpy").iter_batches(
        batch_format="numpy"
    ):
        n_domain += int(b["domain"].sum())
        n_bg += int(b["background"].sum())
    refs = core.reference_keys(reference, p.max_len) if reference else {}
    state = ray.put((p, exclude, stop, refs))
    ranked, occurring, volume = score_shuffles(
        counted,
        parts,
        (ask, {"max_len": p.max_len}),
        answer,
        (score_partition, {"n_domain": n_domain, "n_bg": n_bg, "ref": state}),
        p.top_k,
    )
    facts = {
        "n_domain": n_domain,
        "n_background": n_bg,
        "workers": parts,
        "occurring": occurring if reference else None,
        "shuffle": shuffle_stats(parts, volume, start),
    }
    return ranked, facts
