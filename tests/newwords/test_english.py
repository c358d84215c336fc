"""The English per-block counter and its local driver: blocks merged in order give the one-pass
count, in the same (first-seen) order, which the ranking's tie-breaking depends on."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from components.newwords.english import blocks, count_block, count_ngrams, word_runs
from tests.newwords.conftest import ACL_TRAIN


def acl_texts(n: int) -> list[str]:
    with open(ACL_TRAIN, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line, _ in zip(f, range(n), strict=False)]


def one_pass(texts: list[str], max_n: int) -> list[Counter]:
    """The counter as it was before the per-block split: one Counter set over all texts."""
    counters = [Counter() for _ in range(max_n)]
    for text in texts:
        for run in word_runs(text):
            for n in range(1, min(max_n, len(run)) + 1):
                counters[n - 1].update(tuple(run[i : i + n]) for i in range(len(run) - n + 1))
    return counters


@pytest.mark.parametrize(("block_chars", "n_blocks"), [(1, 300), (4000, None), (10**9, 1)])
def test_blocks_merged_in_order_equal_one_pass(block_chars, n_blocks):
    texts = acl_texts(300)
    n = len(list(blocks(texts, block_chars)))
    assert n == n_blocks if n_blocks else 10 < n < 300
    expected = one_pass(texts, 5)
    got = count_ngrams(texts, 5, block_chars)
    # items(), not ==: the order (first seen) is part of the result.
    assert [list(c.items()) for c in got] == [list(c.items()) for c in expected]


def test_texts_stay_apart_in_a_block():
    c = count_block(["alpha beta", "gamma delta"], 2)
    assert ("beta", "gamma") not in c[1] and c[1][("alpha", "beta")] == 1


def test_marks_say_which_text_saw_a_row_first():
    marks: list[tuple[int, ...]] = []
    c = count_block(["a b", "b c", "a b"], 2, marks)
    assert list(c[0]) == [("a",), ("b",), ("c",)]
    assert marks == [(2, 1), (3, 2), (3, 2)]  # the last text saw nothing new


def test_no_text_gives_empty_tables():
    assert count_ngrams([], 3) == [Counter(), Counter(), Counter()]
