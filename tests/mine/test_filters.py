"""Hygiene: each quality reason, and planted exact / near duplicates all found with no false merge."""

from __future__ import annotations

import random

import numpy as np
import pytest

from components.mine.features import encode
from components.mine.filters import Deduper, minhash_signatures, quality_reasons, text_hashes
from components.mine.params import HygieneParams
from tests.mine.conftest import general_texts

HP = HygieneParams()


def reasons(texts: list[str], lang: str = "zh", **kw) -> list[str | None]:
    return quality_reasons(texts, encode(texts), HygieneParams(**kw), lang)


def test_each_quality_filter_names_its_reason():
    good = "患者近三天持续发热并伴有咳嗽，医生建议先做血常规检查再决定是否使用抗生素治疗。"
    texts = [
        good,
        "太短了",
        good * 10,
        "【】！！@@##￥￥%%……&&**（（））——++" + "好的" * 5,
        "\n".join(["今天天气很好我们一起去公园散步吧"] * 4 + ["然后回家吃饭"]),
        "哈哈哈哈哈哈哈哈哈哈" * 30,
        "This paragraph is written in English and not in Chinese at all, sorry.",
    ]
    got = reasons(texts, max_chars=300)
    assert got == [
        None,
        "too_short",
        "too_long",
        "too_many_symbols",
        "repeated_lines",
        "repeated_ngrams",
        "wrong_script",
    ]
    # The same English text is fine when the expected language is English.
    assert reasons(texts[-1:], lang="en") == [None]


def test_quality_filters_keep_real_clean_text():
    texts = general_texts(200, min_chars=200)
    got = reasons(texts)
    # Real web text: the filters may drop a few documents, never most of them.
    assert sum(r is None for r in got) >= 0.9 * len(texts)


def mutate(text: str, n_changes: int, rng: random.Random) -> str:
    chars = list(text)
    for pos in rng.sample(range(len(chars)), n_changes):
        chars[pos] = "龘" if chars[pos] != "龘" else "齉"
    return "".join(chars)


def run_dedup(texts: list[str], hp: HygieneParams = HP) -> list[str | None]:
    enc = encode(texts)
    sigs = minhash_signatures(enc, hp.shingle_size, hp.num_perm)
    dedup = Deduper(hp)
    return [dedup.check(int(h), s) for h, s in zip(text_hashes(texts), sigs, strict=True)]


def test_planted_duplicates_all_found_and_distinct_documents_never_merged():
    rng = random.Random(0)
    originals = general_texts(300, min_chars=200)
    assert run_dedup(originals) == [None] * len(originals), "the originals hold no duplicates"
    exact = [rng.choice(originals) for _ in range(20)]
    spaced = [t[:50] + "  \n " + t[50:] for t in rng.sample(originals, 10)]
    near = [mutate(t, rng.randint(1, 3), rng) for t in rng.sample(originals, 30)]
    planted = [(t, "exact_dup") for t in exact + spaced] + [(t, "near_dup") for t in near]
    rng.shuffle(planted)
    got = run_dedup(originals + [t for t, _ in planted])
    assert got[: len(originals)] == [None] * len(originals)
    assert got[len(originals) :] == [reason for _, reason in planted]


def test_seed_copies_are_in_seed_not_duplicates():
    seed = general_texts(50, min_chars=200)
    enc = encode(seed)
    dedup = Deduper(HP)
    dedup.add_seed(text_hashes(seed), minhash_signatures(enc, HP.shingle_size, HP.num_perm))
    pool = [seed[3], mutate(seed[7], 2, random.Random(1)), general_texts(60, 200)[55]]
    penc = encode(pool)
    sigs = minhash_signatures(penc, HP.shingle_size, HP.num_perm)
    got = [dedup.check(int(h), s) for h, s in zip(text_hashes(pool), sigs, strict=True)]
    assert got == ["in_seed", "in_seed", None]


@pytest.mark.parametrize("n_changes", [0, 5, 60])
def test_signature_agreement_tracks_jaccard(n_changes):
    text = general_texts(1, min_chars=400)[0][:400]
    other = mutate(text, n_changes, random.Random(2)) if n_changes else text
    s = minhash_signatures(encode([text, other]), 5, 128)
    est = float(np.mean(s[0] == s[1]))
    a = {text[i : i + 5] for i in range(len(text) - 4)}
    b = {other[i : i + 5] for i in range(len(other) - 4)}
    true = len(a & b) / len(a | b)
    assert abs(est - true) < 0.2, (est, true)


def test_short_documents_get_the_empty_signature_long_ones_a_full_one():
    sigs = minhash_signatures(encode(["abc", "xyz", "一二三四五六七"]), 5, 64)
    assert (sigs[0] == np.iinfo(np.uint32).max).all() and (sigs[1] == sigs[0]).all()
    assert (sigs[2] != np.iinfo(np.uint32).max).all()  # densified: every bin filled


def test_dedup_memory_cap_stops_remembering_but_keeps_checking():
    docs = general_texts(8, min_chars=200)
    hp = HygieneParams(dedup_max_docs=5)
    enc = encode(docs)
    sigs = minhash_signatures(enc, hp.shingle_size, hp.num_perm)
    hashes = text_hashes(docs)
    dedup = Deduper(hp)
    assert [dedup.check(int(h), s) for h, s in zip(hashes, sigs, strict=True)] == [None] * 8
    assert dedup.unindexed == 3 and len(dedup.seen) == 5
    # A copy of a remembered document is still caught; one of a forgotten one is not.
    assert dedup.check(int(hashes[0]), sigs[0]) == "exact_dup"
    assert dedup.check(int(hashes[7]), sigs[7]) is None


def test_dict_lsh_index_finds_the_same_candidates_as_datasketch():
    """The band index is plain dicts; its candidates must equal datasketch MinHashLSH's for the
    same band layout (documents that share at least one whole band)."""
    from datasketch import LeanMinHash, MinHashLSH

    rng = random.Random(3)
    originals = general_texts(120, min_chars=200)
    texts = originals + [mutate(t, rng.randint(1, 8), rng) for t in rng.sample(originals, 60)]
    sigs = minhash_signatures(encode(texts), HP.shingle_size, HP.num_perm)
    ours = Deduper(HP)
    w = HP.lsh_recall_weight
    ref = MinHashLSH(threshold=HP.near_dup_threshold, num_perm=HP.num_perm, weights=(1 - w, w))
    assert (ours.bands, ours.rows) == (ref.b, ref.r)
    found = 0
    for i, sig in enumerate(sigs):
        lean = LeanMinHash(seed=1, hashvalues=sig, scheme="affine32")
        want = set(ref.query(lean)) if i else set()
        got: set[int] = set()
        for table, key in zip(ours.index, ours._band_keys(sig), strict=True):
            hit = table.get(key)
            got |= set(hit) if isinstance(hit, list) else ({hit} if hit is not None else set())
        assert got == want, i
        found += bool(want)
        ref.insert(i, lean, check_duplication=False)
        ours._insert(sig)
    assert found >= 50  # the mutated copies do meet their originals


@pytest.mark.parametrize(
    ("threshold", "num_perm", "recall_weight"),
    [(0.7, 64, 0.8), (0.5, 128, 0.5), (0.9, 32, 0.8), (0.8, 256, 0.3)],
)
def test_band_layout_is_datasketchs_optimum(threshold, num_perm, recall_weight):
    from datasketch.lsh import _optimal_param

    from components.mine.filters import lsh_bands

    w = recall_weight
    assert lsh_bands(threshold, num_perm, 1 - w, w) == _optimal_param(threshold, num_perm, 1 - w, w)
