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
