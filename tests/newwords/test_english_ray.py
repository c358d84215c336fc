"""The English Ray path's map, reduces and scoring, run without Ray (each shuffle done by hand):
from batches that arrive out of order, the partitions' merged top rows are the local ranking,
with the same candidates, filter counts, units and reference words found."""

from __future__ import annotations

import json
import pickle
import random
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest

from components.data.lexicon import read_words
from components.newwords import core
from components.newwords.english import count_ngrams, score_counts
from components.newwords.english_ray import (
    count_block_en,
    finish_en,
    merge_partition_en,
    part_of,
    route_en,
)
from components.newwords.english_ray_scores import answer_en, ask_en, score_group
from components.newwords.params import NewwordsParams
from components.newwords.ray_scores import collect
from tests.newwords.conftest import ACL_TRAIN, EN_VOCAB, wikitext, write_jsonl


def line_rows(path) -> list[tuple[str, int, str]]:
    """What ``raydata.lines_dataset`` gives: (path, line number, line) of non-empty lines."""
    raw = path.read_bytes().split(b"\n")
    return [(str(path), i, b.decode()) for i, b in enumerate(raw, 1) if b.strip()]


def rows_of(out: dict) -> list[dict]:
    """A map or reduce output (columns) as rows."""
    return [dict(zip(out, vals, strict=True)) for vals in zip(*out.values(), strict=True)]


def groupby_part(rows: list[dict], reduce_fn, rng: random.Random, **kw) -> list[dict]:
    """``groupby("part").map_groups(reduce_fn)`` by hand, a group's rows in no particular order."""
    by_part = defaultdict(list)
    for r in rows:
        by_part[int(r["part"])].append(r)
    out = []
    for part in sorted(by_part):
        group = by_part[part]
        rng.shuffle(group)
        cols = {k: [r[k] for r in group] for k in ("part", "payload", "shuffle_bytes")}
        out += rows_of(reduce_fn({**cols, "part": np.array(cols["part"])}, **kw))
    return out


def columns(rows: list[dict]) -> dict:
    return {k: [r[k] for r in rows] for k in rows[0]}


def rank_by_hand(sides, p: NewwordsParams, parts: int, batch: int, files, state) -> tuple:
    mapped, rng = [], random.Random(0)
    for role, rows, max_n in sides:
        batches = [rows[i : i + batch] for i in range(0, len(rows), batch)]
        batches.reverse()  # out of order, as an unordered Ray Data run could deliver them
        batches[0] = batches[0][::-1]  # and one batch shuffled inside
        for b in batches:
            cols = {
                k: np.array([r[j] for r in b]) for j, k in enumerate(("path", "lineno", "line"))
            }
            out = count_block_en(cols, role=role, max_n=max_n, parts=parts, files=files)
            mapped += [{**r, "shuffle_bytes": 0} for r in rows_of(out)]
    kw = {"max_words": p.max_words, "min_count": p.min_count}
    reduced = groupby_part(mapped, merge_partition_en, rng, **kw)
    routed = rows_of(route_en(columns(reduced), parts=parts, **kw))
    counted = groupby_part(routed, finish_en, rng)
    n_words = sum(r["units_domain"] for r in counted)
    n_bg = sum(r["units_background"] for r in counted)
    asked = rows_of(ask_en(columns(counted), parts=parts))
    answered = groupby_part(asked, answer_en, rng)
    scored = groupby_part(answered, score_group, rng, n_words=n_words, n_bg=n_bg, state=state)
    ranked, occurring, volume = collect(SimpleNamespace(iter_rows=lambda: scored), p.top_k)
    scores = {row[0]: s for r in scored for s, *_, row in pickle.loads(r["payload"])["top"]}
    return ranked, occurring, volume, (n_words, n_bg), scores


@pytest.mark.parametrize(("min_count", "top_k"), [(1, 5000), (3, 5000), (3, 25)])
def test_hand_shuffled_partitions_rank_as_the_local_scorer(tmp_path, min_count, top_k):
    domain = ACL_TRAIN
    general = write_jsonl(tmp_path / "wiki.jsonl", wikitext(150))
    p = NewwordsParams(lang="en", max_words=3, min_count=min_count, top_k=top_k)
    # Loose filters: a long ranking, so the order of many rows (and their ties) is checked.
    p.min_entropy, p.min_cohesion, p.min_domain_score, p.max_extension_share = 0, -9, -9, 1
    files = {str(domain): 0, str(general): 1}
    vocab = {w.lower() for w in read_words(EN_VOCAB)}  # single words split in 3+ pieces count
    stop, exclude = {"of"}, {"et al"}  # few stop words: rows of many neighbours are listed
    texts = [json.loads(r[2])["text"] for r in line_rows(domain)]
    bg_texts = [json.loads(r[2])["text"] for r in line_rows(general)]
    cand = score_counts(count_ngrams(texts, 4), count_ngrams(bg_texts, 3), p, vocab)
    local = core.rank(cand, p, exclude, stop, lang="en")
    reference = {cand.words[0], cand.words[-1], "no such words"}

    sides = [("domain", line_rows(domain), 4), ("background", line_rows(general), 3)]
    state = (p, vocab, exclude, stop, reference)
    ranked, occurring, volume, units, scores = rank_by_hand(sides, p, 3, 17, files, state)
    assert len(local.rows) == min(top_k, len(local.rows)) > 20  # a real ranking (or the cut)
    assert ranked.rows == local.rows  # words, order and rounded floats: tolerance 0
    assert (ranked.candidates, ranked.filtered) == (local.candidates, local.filtered)
    assert units == (cand.n_domain, cand.n_background) and volume > 0
    assert occurring == reference - {"no such words"}  # as ref & the local candidates
    # Unrounded: every partition row's score is the local float, bit for bit (the neighbour sums
    # added in the local order, cohesion from the same Python expression on the same ints).
    local_score = dict(zip(cand.words, core.score_columns(cand, p)[0].tolist(), strict=True))
    assert len(scores) >= len(local.rows)
    assert all(scores[w] == local_score[w] for w in scores)


def test_partition_hash_is_stable_and_spread():
    grams = [("word", str(i)) for i in range(400)]
    parts = [part_of(g, 4) for g in grams]
    assert parts == [part_of(g, 4) for g in grams] and set(parts) == {0, 1, 2, 3}
    assert part_of(("machine", "translation"), 7) == 4  # no per-process salt (hash() has one)
