"""The gate on synthetic per-seed predictions: paired intervals over test rows and seeds."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from components.evaluate.gate import Scores, decide, macro_f1_many, paired_interval
from components.evaluate.params import GateParams
from tests.evaluate.synthetic import labels, predictions

P = GateParams(margin=0.005, bootstrap_samples=400)


def scores(name, y, accuracies):
    return Scores(name, list(range(len(accuracies))), [predictions(y, a, s, name) for s, a in enumerate(accuracies)])  # fmt: skip


def test_vectorised_macro_f1_equals_scikit_learn_on_every_resample():
    y = labels()
    pred = np.asarray([predictions(y, 0.6, 0), predictions(y, 0.3, 1)])
    idx = np.random.default_rng(5).integers(0, len(y), (20, len(y)))
    ours = macro_f1_many(y, pred, idx)
    present = np.unique(y)
    for b in range(20):
        for s in range(2):
            ref = f1_score(y[idx[b]], pred[s][idx[b]], labels=present, average="macro", zero_division=0)  # fmt: skip
            assert ours[b, s] == pytest.approx(ref, abs=1e-12)


def test_a_real_paired_win_beyond_the_margin_is_promoted_with_its_interval():
    y = labels()
    d = decide(scores("dapt/full", y, [0.80, 0.81, 0.79]), scores("base/full", y, [0.60, 0.62, 0.61]), None, y, P)  # fmt: skip
    assert d.promote and d.alias == "champion"
    (c,) = d.comparisons
    assert c.low > P.margin and c.low < c.delta < c.high and c.seeds == 3
    assert "CI [" in d.reason and "paired seed(s)" in d.reason


def test_a_tie_is_not_promoted_and_the_interval_covers_zero():
    y = labels()
    d = decide(scores("dapt/full", y, [0.70, 0.70, 0.70]), scores("base/full", y, [0.70, 0.70, 0.70]), None, y, P)  # fmt: skip
    assert not d.promote and d.comparisons[0].low < 0 < d.comparisons[0].high


def test_seed_noise_widens_the_interval():
    """One lucky seed: the mean gain is large, but resampling seeds shows it is not reliable."""
    y = labels()
    lucky = scores("dapt/full", y, [0.95, 0.60, 0.60])
    base = scores("base/full", y, [0.61, 0.61, 0.61])
    _, low, high = paired_interval(y, np.asarray(lucky.predictions), np.asarray(base.predictions), samples=400, confidence=0.95)  # fmt: skip
    _, low1, high1 = paired_interval(y, np.asarray(lucky.predictions[:1]), np.asarray(base.predictions[:1]), samples=400, confidence=0.95)  # fmt: skip
    assert high - low > 3 * (high1 - low1)
    assert not decide(lucky, base, None, y, P).promote


def test_losing_to_the_control_blocks_promotion_unless_not_required():
    y = labels()
    cand, base = scores("dapt/full", y, [0.8, 0.8]), scores("base/full", y, [0.6, 0.6])
    control = scores("control/full", y, [0.8, 0.8])
    assert not decide(cand, base, control, y, P).promote
    relaxed = GateParams(margin=0.005, bootstrap_samples=400, require_beat_control=False)
    d = decide(cand, base, control, y, relaxed)
    assert d.promote and "not required" in d.reason and len(d.comparisons) == 2


def test_the_candidate_never_beats_itself_and_unpaired_seeds_fail():
    y = labels()
    same = scores("base/full", y, [0.7, 0.7])
    assert "reference itself" in decide(same, same, None, y, P).reason
    other = Scores("x", [7], [predictions(y, 0.9, 7)])
    assert not decide(scores("c", y, [0.9]), other, None, y, P).promote
