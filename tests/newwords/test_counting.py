"""The sharded counter equals an exact single-process count; pruning bounds the tables."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from components.newwords.counting import char_ids, count_sharded, key_of, shard_tables
from tests.newwords.conftest import synthetic_docs

HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def exact_counts(texts: list[str], max_len: int) -> list[Counter]:
    out = [Counter() for _ in range(max_len)]
    for text in texts:
        for run in HAN_RUN.findall(text):
            for n in range(1, max_len + 1):
                out[n - 1].update(run[i : i + n] for i in range(len(run) - n + 1))
    return out


def as_dict(table) -> dict[int, int]:
    return dict(zip(table["keys"].tolist(), table["counts"].tolist(), strict=True))


def test_sharded_multiprocess_count_equals_exact_count():
    docs = [*synthetic_docs(400, seed=7), "ab 12 混合English文本，标点。", "单"]
    max_len = 7
    exact = exact_counts(docs, max_len)
    shards = [("domain", "\n".join(docs[i : i + 37])) for i in range(0, len(docs), 37)]
    result = count_sharded(iter(shards), max_len=max_len, workers=2, max_entries=10**7)
    assert result.workers == 2 and result.prune_floor == 0
    for n in range(1, max_len + 1):
        want = {key_of(w): c for w, c in exact[n - 1].items()}
        assert as_dict(result.domain[n - 1]) == want, f"length {n}"
    # The per-row columns used by PMI, entropy and decoding agree with the words themselves.
    t = result.domain[4]
    for word in list(exact[4])[:50]:
        i = int(np.searchsorted(t["keys"], key_of(word)))
        assert t["prefix"][i] == key_of(word[:-1]) and t["suffix"][i] == key_of(word[1:])
        assert t["last"][i] == char_ids(word[-1])[0]
    assert all(len(t["keys"]) == 0 for t in result.background)


def test_single_shard_equals_many_shards_and_workers():
    docs = synthetic_docs(200, seed=3)
    one = count_sharded(iter([("domain", "\n".join(docs))]), max_len=5, workers=1)
    many = count_sharded(iter(("domain", d) for d in docs), max_len=5, workers=2, max_entries=10**7)
    for a, b in zip(one.domain, many.domain, strict=True):
        for field in ("keys", "counts", "prefix", "suffix", "last"):
            assert np.array_equal(a[field], b[field])


def test_pruning_bounds_rows_and_never_overcounts():
    docs = synthetic_docs(300, seed=5)
    exact = exact_counts(docs, 4)
    cap = 3000
    result = count_sharded(
        iter(("domain", "\n".join(docs[i : i + 10])) for i in range(0, len(docs), 10)),
        max_len=4,
        workers=1,
        max_entries=cap,
    )
    assert result.prune_floor > 0
    assert sum(len(t["keys"]) for t in result.domain) <= cap
    for n in range(1, 5):
        truth = {key_of(w): c for w, c in exact[n - 1].items()}
        got = as_dict(result.domain[n - 1])
        assert all(c <= truth[k] for k, c in got.items())
    # Characters and frequent pairs survive pruning.
    assert len(result.domain[0]["keys"]) == len(exact[0])


def test_boundaries_split_ngrams():
    tables = shard_tables("甲乙，丙丁\n戊a己", 3)
    assert len(tables[0]["keys"]) == 6
    assert len(tables[1]["keys"]) == 2  # 甲乙 and 丙丁; nothing across punctuation or Latin
    assert len(tables[2]["keys"]) == 0
