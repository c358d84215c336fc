"""The English Ray counter's map, reduce and gather, run without Ray (the shuffle done by hand):
the tables it gathers hold the local counts in the local order, even from batches that arrive
out of order, and score exactly as the local tables do (the rows it drops are never read)."""

from __future__ import annotations

import json
import pickle
import random
from collections import defaultdict

import numpy as np
import pytest

from components.newwords.english import count_ngrams, score_counts
from components.newwords.english_ray import count_block_en, gather, merge_partition_en, part_of
from components.newwords.params import NewwordsParams
from tests.newwords.conftest import ACL_DEV, wikitext, write_jsonl


def line_rows(path) -> list[tuple[str, int, str]]:
    """What ``raydata.lines_dataset`` gives: (path, line number, line) of non-empty lines."""
    raw = path.read_bytes().split(b"\n")
    return [(str(path), i, b.decode()) for i, b in enumerate(raw, 1) if b.strip()]


def shuffle_by_hand(sides, parts: int, max_words: int, min_count: int, batch: int, files):
    by_part = defaultdict(list)
    for role, rows, max_n in sides:
        batches = [rows[i : i + batch] for i in range(0, len(rows), batch)]
        batches.reverse()  # out of order, as an unordered Ray Data run could deliver them
        batches[0] = batches[0][::-1]  # and one batch shuffled inside
        for b in batches:
            cols = {
                k: np.array([r[j] for r in b]) for j, k in enumerate(("path", "lineno", "line"))
            }
            out = count_block_en(cols, role=role, max_n=max_n, parts=parts, files=files)
            for part, blob in zip(out["part"], out["payload"], strict=True):
                by_part[int(part)].append(blob)
    results, rng = [], random.Random(0)
    for part in sorted(by_part):
        rng.shuffle(by_part[part])  # a group's rows come in no particular order either
        group = {"part": np.array([part] * len(by_part[part])), "payload": by_part[part]}
        merged = merge_partition_en(group, max_words=max_words, min_count=min_count)
        assert merged["shuffle_bytes"][0] == sum(len(b) for b in by_part[part])
        results.append(pickle.loads(merged["payload"][0]))
    return results


def same_candidates(a, b) -> None:
    assert a.words == b.words and (a.n_domain, a.n_background) == (b.n_domain, b.n_background)
    for col in ("freq", "cohesion", "left", "right", "bg_freq", "left_max", "right_max"):
        assert np.array_equal(getattr(a, col), getattr(b, col)), col  # exact: same floats


@pytest.mark.parametrize("min_count", [1, 3])
def test_hand_shuffled_tables_equal_the_local_ones(tmp_path, min_count):
    domain = ACL_DEV
    general = write_jsonl(tmp_path / "wiki.jsonl", wikitext(150))
    p = NewwordsParams(lang="en", max_words=3, min_count=min_count)
    files = {str(domain): 0, str(general): 1}
    sides = [("domain", line_rows(domain), 4), ("background", line_rows(general), 3)]
    results = shuffle_by_hand(sides, 3, p.max_words, min_count, 17, files)
    ray_c, ray_bg = gather(results, p.max_words, background=True)
    assert gather(results, p.max_words, background=False)[1] is None  # as the local driver: None

    texts = [json.loads(r[2])["text"] for r in line_rows(domain)]
    bg_texts = [json.loads(r[2])["text"] for r in line_rows(general)]
    local_c, local_bg = count_ngrams(texts, 4), count_ngrams(bg_texts, 3)
    # Length 1 whole and in order; longer: exactly the rows a score can read, in local order.
    assert list(ray_c[0].items()) == list(local_c[0].items()) and ray_bg[0] == local_bg[0]
    for n in range(1, 4):
        readable = [
            (g, k) for g, k in local_c[n].items() if k > 1 or (n < p.max_words and k >= min_count)
        ]
        assert list(ray_c[n].items()) == readable
    assert len(ray_c[3]) < len(local_c[3])  # count-1 rows were dropped, not all kept
    for n in range(1, 3):
        assert all(ray_bg[n][g] == local_bg[n][g] for g, k in local_c[n].items() if k >= min_count)
    vocab = {"the", "cit", "##ation"}
    same_candidates(
        score_counts(ray_c, ray_bg, p, vocab), score_counts(local_c, local_bg, p, vocab)
    )


def test_partition_hash_is_stable_and_spread():
    grams = [("word", str(i)) for i in range(400)]
    parts = [part_of(g, 4) for g in grams]
    assert parts == [part_of(g, 4) for g in grams] and set(parts) == {0, 1, 2, 3}
    assert part_of(("machine", "translation"), 7) == 4  # no per-process salt (hash() has one)
