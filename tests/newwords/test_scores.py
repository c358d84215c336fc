"""Entropy, PMI and log-odds against hand-computed values, through the real counting path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from components.newwords import core
from components.newwords.counting import count_sharded
from components.newwords.params import NewwordsParams

# 甲乙 occurs 4 times: right neighbours 丙, 丙, 丁 and one sentence end; left: three line starts
# and 戊. 12 Han characters in all.
LINES = ["甲乙丙", "甲乙丙", "甲乙丁", "戊甲乙"]


@pytest.fixture
def cand():
    params = NewwordsParams(max_len=3, min_count=2)
    counts = count_sharded(iter([("domain", "\n".join(LINES))]), max_len=4, workers=1)
    c = core.zh_candidates(counts, params)
    return {w: i for i, w in enumerate(c.words)}, c


def test_neighbour_entropy_by_hand(cand):
    index, c = cand
    i = index["甲乙"]
    assert c.freq[i] == 4
    # right: p = (1/2, 1/4, 1/4) -> 0.5 ln 2 + 2 * 0.25 ln 4 = 1.5 ln 2
    assert c.right[i] == pytest.approx(1.5 * math.log(2))
    # left: the three line starts count as distinct neighbours, plus 戊: four singletons
    assert c.left[i] == pytest.approx(math.log(4))
    assert core.neighbour_entropy(4, [2, 1, 1]) == pytest.approx(1.5 * math.log(2))


def test_cohesion_is_min_pmi_over_splits_by_hand(cand):
    index, c = cand
    # 甲乙: c=4, c(甲)=4, c(乙)=4, N=12 -> ln(4*12/16) = ln 3
    assert c.cohesion[index["甲乙"]] == pytest.approx(math.log(3))
    # 甲乙丙: c=2; 甲|乙丙: ln(2*12/(4*2)) = ln 3; 甲乙|丙: ln(2*12/(4*2)) = ln 3
    assert c.cohesion[index["甲乙丙"]] == pytest.approx(math.log(3))
    # 乙丙: c=2, c(乙)=4, c(丙)=2 -> ln(2*12/8) = ln 3; 乙丁 occurs once: not a candidate
    assert "乙丁" not in index
    assert core.cohesion(2, [(4, 2), (4, 2)], 12) == pytest.approx(math.log(3))
    assert core.cohesion(2, [(4, 2), (8, 1)], 12) == pytest.approx(math.log(2 * 12 / 8))


def test_log_odds_by_hand():
    got = core.log_odds(np.array([9.0]), 100, np.array([1.0]), 200, 1.0)[0]
    assert got == pytest.approx(math.log(10 / 92) - math.log(2 / 200))


def test_rank_filters_stop_edges_excluded_and_thresholds():
    c = core.Candidates(
        words=["甲乙", "的乙", "甲了", "丙丁", "戊己"],
        freq=np.array([10.0, 10, 10, 10, 10]),
        cohesion=np.array([3.0, 3, 3, 3, 0.1]),
        left=np.array([2.0, 2, 2, 2, 2]),
        right=np.array([2.0, 2, 2, 2, 2]),
        bg_freq=np.zeros(5),
        n_domain=100,
        n_background=0,
    )
    r = core.rank(c, NewwordsParams(), exclude={"丙丁"}, stop=set("的了"))
    assert [row[0] for row in r.rows] == ["甲乙"]
    assert r.filtered["stop_edge"] == 2 and r.filtered["excluded"] == 1
    assert r.filtered["below_min_cohesion"] == 1
    p = NewwordsParams()
    expected = p.w_freq * math.log(10) + p.w_cohesion * 3 + p.w_entropy * 2
    assert r.rows[0][-1] == pytest.approx(expected, abs=1e-4)


def test_evaluate_precision_recall_and_general_exclusion():
    ranked = ["甲乙", "丙丁", "戊", "己庚"]
    ref = {"甲乙", "己庚", "辛壬", "丙丁"}
    ev = core.evaluate(ranked, ref, {"甲乙", "辛壬"}, [2, 4])
    assert ev["precision_at_2"] == 1.0 and ev["precision_at_4"] == 0.75 and ev["recall"] == 0.5
    new = core.evaluate(ranked, ref, {"甲乙", "辛壬"}, [2], general={"丙丁"})
    assert new["precision_at_2"] == 1.0 and new["listed"] == 2


def _ranked(lines: list[str], background: list[str] | None = None, **kw) -> core.Ranked:
    params = NewwordsParams(**kw)
    shards = [("domain", "\n".join(lines))]
    if background:
        shards.append(("background", "\n".join(background)))
    counts = count_sharded(iter(shards), max_len=params.max_len + 1, workers=1)
    cand = core.zh_candidates(counts, params)
    exclude = set(core.general_dictionary()) if params.exclude_general_dict else set()
    return core.rank(cand, params, exclude, set(params.stop_chars))


def test_subsumption_drops_fragments_of_a_longer_string():
    # 阿奇 occurs 24 times, 20 of them inside 阿奇霉素 (share 0.83): a fragment. 霉素 alone is
    # just as dominated. Surrounding characters vary so that entropy does not decide.
    rng = np.random.default_rng(0)
    filler = list("天地人和春夏秋冬山水云风花月江河湖海东西南北")
    lines = []
    for i in range(24):
        left, right = "".join(rng.choice(filler, 2)), "".join(rng.choice(filler, 2))
        lines.append(f"{left}{'阿奇霉素' if i < 20 else '阿奇'}{right}")
    kw = {"min_count": 3, "min_entropy": 0.0, "min_cohesion": 0.0}
    on = _ranked(lines, **kw, max_extension_share=0.5)
    off = _ranked(lines, **kw, max_extension_share=1.0)
    words_on, words_off = {r[0] for r in on.rows}, {r[0] for r in off.rows}
    assert "阿奇霉素" in words_on and "阿奇" not in words_on
    assert "阿奇" in words_off  # the subsumption step, not another filter, removed it
    assert on.filtered["subsumed"] > 0 and off.filtered["subsumed"] == 0
    share = core.extension_share(
        core.zh_candidates(
            count_sharded(iter([("domain", "\n".join(lines))]), max_len=7, workers=1),
            NewwordsParams(min_count=3),
        )
    )
    assert share.max() <= 1.0


def test_planted_domain_term_ranks_in_top_50_of_real_text():
    """A term with strong statistics (40 occurrences in varied contexts, absent from the
    background) among ~700 KB of real web text ranks in the top 50 under the defaults.

    Varied contexts matter: a string always preceded by the same character is, by the
    neighbour-entropy test, a fragment of a longer one."""
    from pathlib import Path

    sample = (
        Path(__file__).resolve().parents[2] / "data/samples/general/clue_corpus_small_sample.txt"
    )
    docs = [x.strip() for x in sample.read_text(encoding="utf-8").splitlines() if x.strip()]
    corpus, background = docs[:800], docs[800:1600]
    rng = np.random.default_rng(1)
    before = ["服用", "口服", "医生开了", "含有", "停用", "，", "买了", "对"]
    after = ["后", "片", "的副作用", "，", "。", "有效", "和", "糖浆"]
    for i in rng.choice(len(corpus), 40, replace=False):
        cut = int(rng.integers(0, len(corpus[i])))
        term = rng.choice(before) + "氯雷他定" + rng.choice(after)
        corpus[i] = corpus[i][:cut] + term + corpus[i][cut:]
    r = _ranked(corpus, background)
    words = [row[0] for row in r.rows]
    assert "氯雷他定" in words[:50], words[:50]
    assert not set(words) & core.general_dictionary()  # the defaults exclude known words
