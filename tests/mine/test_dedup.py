"""``dedup.resolve`` over the pair relation makes exactly ``Deduper``'s sequential decisions.

The relation is built here in memory the way the Ray engine builds it with its shuffles (pairs
within band buckets, documents sharing a hash), over synthetic signatures with planted exact
copies, near copies (a few MinHash values changed), chains (a ~ b ~ c with a !~ c) and copies
of seed signatures, so the greedy order, the seed index and ``dedup_max_docs`` all matter.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import pytest

from components.mine.dedup import Involved, band_slices, bucket_pairs, resolve
from components.mine.filters import Deduper
from components.mine.params import HygieneParams

P = 32


def corpus(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**32, size=(12, P), dtype=np.uint32)
    sigs = rng.integers(0, 2**32, size=(n, P), dtype=np.uint32)
    hashes = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    for j in range(20, n):
        kind = rng.integers(0, 6)
        i = int(rng.integers(0, j))
        if kind == 0:  # exact copy of an earlier document
            sigs[j], hashes[j] = sigs[i], hashes[i]
        elif kind == 1:  # near copy: a few values changed (some end up below the threshold)
            sigs[j] = sigs[i]
            sigs[j, rng.choice(P, size=int(rng.integers(1, 12)), replace=False)] += 1
        elif kind == 2:  # near copy of a seed signature
            sigs[j] = seeds[int(rng.integers(0, len(seeds)))]
            sigs[j, rng.choice(P, size=3, replace=False)] += 1
    has_sig = rng.random(n) > 0.1  # short documents: exact dedup only
    return seeds, sigs, hashes, has_sig


def sequential(hp, seeds, sigs, hashes, has_sig):
    d = Deduper(hp)
    d.add_seed(np.zeros(0, np.uint64), seeds if hp.near_dedup else None)
    got = [
        d.check(int(h), s if ok else None) for h, s, ok in zip(hashes, sigs, has_sig, strict=True)
    ]
    return got, d.unindexed


def from_relation(hp, seeds, sigs, hashes, has_sig):
    bands, rows = Deduper(hp).bands, Deduper(hp).rows
    seeds = seeds[: hp.dedup_max_docs or len(seeds)]
    keys = np.concatenate([np.arange(-len(seeds), 0), np.nonzero(has_sig)[0]])
    all_sigs = np.concatenate([seeds, sigs[has_sig]])
    pairs = set()
    if hp.near_dedup:
        for raw in band_slices(all_sigs, bands, rows):  # the band shuffle
            buckets = defaultdict(list)
            for k, v in enumerate(raw.tolist()):
                buckets[v].append(k)
            for members in buckets.values():
                if len(members) > 1:
                    m = np.array(members)
                    pairs.update(bucket_pairs(keys[m], all_sigs[m], hp.near_dup_threshold))
    by_hash = defaultdict(list)  # the hash shuffle
    for k, h in enumerate(hashes.tolist()):
        by_hash[h].append(k)
    inv = {k for g in by_hash.values() if len(g) > 1 for k in g}
    inv |= {k for p in pairs for k in p if k >= 0}
    keys = np.array(sorted(inv), dtype=np.int64)
    involved = Involved(keys, keys.copy(), hashes[keys], has_sig[keys])  # all eligible: rank=key
    decisions, unindexed = resolve(involved, pairs, len(hashes), hp)
    return [decisions.get(k) for k in range(len(hashes))], unindexed


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"dedup_max_docs": 150},
        {"dedup_max_docs": 5},  # fills up inside the seed signatures
        {"exact_dedup": False},
        {"near_dedup": False, "dedup_max_docs": 100},
        {"near_dup_threshold": 0.5, "lsh_recall_weight": 0.95},
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resolve_makes_the_sequential_decisions(changes, seed):
    hp = dataclasses.replace(HygieneParams(num_perm=P), **changes)
    data = corpus(seed)
    want, want_unindexed = sequential(hp, *data)
    got, unindexed = from_relation(hp, *data)
    assert got == want
    assert unindexed == want_unindexed
    # the corpus exercises every branch (a test that cannot fail is a defect)
    reasons = set(want)
    if hp.exact_dedup:
        assert "exact_dup" in reasons
    if hp.near_dedup:
        assert {"near_dup", "in_seed"} <= reasons
    if hp.dedup_max_docs == 150:
        assert want_unindexed > 0


def test_bucket_pairs_use_the_deduper_threshold():
    base = np.arange(P, dtype=np.uint32)
    sigs = np.stack([base, base, base])
    sigs[1, :8] += 1  # 24/32 = 0.75 agree with 0
    sigs[2, :16] += 1  # 16/32 = 0.5 agree with 0, 24/32 with 1
    pairs = bucket_pairs(np.array([7, 3, 9]), sigs[[1, 0, 2]], 0.75)
    assert sorted(pairs) == [(7, 3), (9, 7)]
