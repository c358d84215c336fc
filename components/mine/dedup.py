"""Deduplication from candidate pairs: the distributed form of ``filters.Deduper`` (pure, no Ray).

``Deduper`` decides one document at a time, in pool order, against what it kept before: a
document is an exact duplicate of a *remembered* earlier document, or a near duplicate of one
sharing an LSH band with it and agreeing on at least ``near_dup_threshold`` of the MinHash
values. Which documents are remembered depends on every earlier decision, so the order matters;
it cannot be decided per band bucket alone. What can be computed anywhere, in any order, is the
*relation*: which pairs of documents would be candidates that match (same band and similar
enough) and which share a content hash. The Ray engine computes that relation with a shuffle by
band key and by hash (``ray_dedup.py``); the only sequential step left is ``resolve`` below,
which walks the documents that have any such pair (normally a small share of the pool) in pool
order and makes exactly ``Deduper``'s decisions, ``dedup_max_docs`` included.

Keys order documents as the pool does: seed signatures have negative keys (the index holds them
before any pool document), pool documents non-negative keys in pool order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from components.mine.params import HygieneParams


def band_slices(sigs: np.ndarray, bands: int, rows: int) -> list[np.ndarray]:
    """Band ``b`` of each signature as raw bytes rows: the exact key ``Deduper`` indexes."""
    return [
        np.ascontiguousarray(sigs[:, b * rows : (b + 1) * rows]).view(f"V{4 * rows}").ravel()
        for b in range(bands)
    ]


def bucket_pairs(keys: np.ndarray, sigs: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Confirmed pairs (later, earlier) among documents sharing one band key.

    Similarity is ``Deduper``'s own test, ``mean(sig_i == sig_j) >= threshold``, so a pair
    is kept here exactly when ``Deduper`` would accept the earlier one as a match.
    """
    order = np.argsort(keys, kind="stable")
    keys, sigs = keys[order], sigs[order]
    out = []
    for j in range(1, len(keys)):
        sim = np.mean(sigs[:j] == sigs[j], axis=1)
        out.extend((int(keys[j]), int(keys[i])) for i in np.nonzero(sim >= threshold)[0])
    return out


@dataclass
class Involved:
    """The pool documents that have a duplicate hash or a confirmed near pair, in pool order.

    ``rank`` is the document's position among all dedup-eligible pool documents (quality
    filters passed, not a copy of a seed text): what ``dedup_max_docs`` counts against.
    """

    keys: np.ndarray  # int64, ascending
    ranks: np.ndarray  # int64
    hashes: np.ndarray  # uint64
    has_sig: np.ndarray  # bool


def resolve(
    involved: Involved,
    pairs: Iterable[tuple[int, int]],
    n_eligible: int,
    hp: HygieneParams,
) -> tuple[dict[int, str | None], int]:
    """(reason or None per involved key, documents kept but not remembered) as ``Deduper``.

    Documents with no pair at all are kept and remembered while there is room; they match
    nobody, so only their number matters (it fills ``dedup_max_docs``): the ranks give it.
    """
    earlier: dict[int, list[int]] = {}
    for later, first in pairs:
        earlier.setdefault(later, []).append(first)
    cap = hp.dedup_max_docs
    n_seen = 0  # len(Deduper.seen)
    unindexed = 0
    seen: set[int] = set()  # hashes of remembered involved documents
    indexed: set[int] = set()  # keys whose signature is in the index (seeds: all of them)
    for firsts in earlier.values():
        indexed.update(k for k in firsts if k < 0)
    decisions: dict[int, str | None] = {}
    prev = -1

    def fill(gap: int) -> None:  # ``gap`` pair-less eligible documents, each kept
        nonlocal n_seen, unindexed
        add = min(gap, max(0, cap - n_seen)) if cap else gap
        n_seen += add
        unindexed += gap - add

    for key, rank, h, has_sig in zip(
        involved.keys.tolist(),
        involved.ranks.tolist(),
        involved.hashes.tolist(),
        involved.has_sig.tolist(),
        strict=True,
    ):
        fill(rank - prev - 1)
        prev = rank
        full = bool(cap) and n_seen >= cap
        if hp.exact_dedup and h in seen:
            decisions[key] = "exact_dup"
            continue
        if has_sig and hp.near_dedup:
            matched = [k for k in earlier.get(key, ()) if k in indexed]
            if matched:
                decisions[key] = "in_seed" if min(matched) < 0 else "near_dup"
                continue
        decisions[key] = None
        if full:
            unindexed += 1
            continue
        if h not in seen:
            seen.add(h)
            n_seen += 1
        if has_sig and hp.near_dedup:
            indexed.add(key)
    fill(n_eligible - prev - 1)
    return decisions, unindexed
