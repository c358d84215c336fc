"""Neighbour statistics inside the partitions (Chinese, ``engine: ray``): the second shuffle.

After the counting shuffle (``ray_counting``) each partition holds the exact merged tables of
its keys. Neighbour entropy of a candidate ``w`` needs its one-character extensions ``w+x`` and
``x+w``, whose keys hash to other partitions, so each partition sends every extension row of
count > 1 to the partition of its prefix (right neighbours) and of its suffix (left neighbours):
a join by parent key. The receiving partition sums ``c log c`` and takes the max per candidate
in child-key order, which is the order ``core._side_stats`` sums them in locally, so the floats
are the same bits. Each partition then holds its candidates (count >= min_count, with their
four neighbour columns), its length-1 rows and the background rows of its candidates, which is
what scoring in the partitions reads (``ray_scores``: cohesion fetches the counts of the
candidates' prefixes and suffixes by key, since a substring is at least as frequent and so is a
candidate or a length-1 row of its own partition).
"""

from __future__ import annotations

import pickle

import numpy as np

from components.newwords.counting import Table, empty_table, lookup, partition_of
from components.newwords.ray_counting import Outbox, batch_rows, inbox


def route_partition(batch: dict, parts: int, min_count: int) -> dict:
    """Map: one counted partition -> its own candidates (to itself) and its extension rows (to
    the partitions of their parents)."""
    out = Outbox()
    for part, blob, volume in batch_rows(batch):
        domain, background = pickle.loads(blob)
        max_len = len(domain)
        own = [domain[0]]
        for n in range(1, max_len - 1):  # lengths 2 .. max_len - 1: the candidates
            t = domain[n]
            own.append({f: col[t["counts"] >= min_count] for f, col in t.items()})
        own.append(empty_table())  # the longest length is only ever an extension
        bg = [*background[:-1], empty_table()]
        out.keep(part, pickle.dumps((own, bg), protocol=5), volume)
        for n in range(2, max_len):  # children of length n + 1 of parents of length n >= 2
            child = domain[n]  # reduced already: counts > 1 only
            for side in ("prefix", "suffix"):
                dest = partition_of(child[side], parts)
                for r in np.unique(dest).tolist():
                    m = dest == r
                    msg = (n, side, child[side][m], child["keys"][m], child["counts"][m])
                    out.send(r, ("ext", msg))
    return out.rows


def _side(parents: np.ndarray, msgs: list) -> tuple[np.ndarray, np.ndarray]:
    """Sum of c*log(c) and max c over the children of each parent (``core._side_stats``)."""
    if not msgs or not len(parents):
        return np.zeros(len(parents)), np.zeros(len(parents))
    par = np.concatenate([m[0] for m in msgs])
    keys = np.concatenate([m[1] for m in msgs])
    counts = np.concatenate([m[2] for m in msgs])
    order = np.argsort(keys, kind="stable")  # child-key order, as the local table is sorted
    par, counts = par[order], counts[order]
    idx, found = lookup({"keys": parents}, par)
    c = counts.astype(np.float64)
    clogc = np.bincount(idx[found], weights=(c * np.log(c))[found], minlength=len(parents))
    top = np.zeros(len(parents))
    np.maximum.at(top, idx[found], c[found])
    return clogc, top


def finish_partition(group: dict) -> dict:
    """Reduce: a partition's candidates with their neighbour columns, and its background rows."""
    part, _, mine, messages, volume = inbox(group)  # volume: the extension rows' bytes too
    if mine is None:  # every partition routes its own rows, even none
        raise RuntimeError(f"new words: partition {part} lost its own rows")
    own, bg = mine
    ext: dict[tuple[int, str], list] = {}
    for _, (n, side, *arrays) in messages:
        ext.setdefault((n, side), []).append(arrays)
    for n in range(1, len(own) - 1):
        t: Table = own[n]
        t["r_clogc"], t["r_max"] = _side(t["keys"], ext.get((n + 1, "prefix"), []))
        t["l_clogc"], t["l_max"] = _side(t["keys"], ext.get((n + 1, "suffix"), []))
    return {
        "part": [part],
        "payload": [pickle.dumps((own, bg), protocol=5)],
        "shuffle_bytes": [volume],
    }
