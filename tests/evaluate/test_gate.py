import numpy as np

from components.evaluate.gate import Scores, bootstrap_p, decide, welch_p
from components.evaluate.params import GateParams

P = GateParams(margin=0.005, alpha=0.05)


def s(name, values, preds=None):
    return Scores(name, list(values), preds)


def test_worse_candidate_is_not_promoted():
    d = decide(s("dapt/full", [0.40, 0.41, 0.39]), s("champion", [0.45, 0.46, 0.44]), None, P)
    assert not d.promote and d.alias == "challenger"
    assert "not above the margin" in d.reason


def test_clearly_better_candidate_is_promoted_and_reason_names_both_references():
    cand = s("dapt/full", [0.50, 0.51, 0.505])
    d = decide(cand, s("base/full", [0.40, 0.41, 0.405]), s("control/full", [0.42, 0.43, 0.425]), P)
    assert d.promote and d.alias == "champion"
    assert "vs base/full" in d.reason and "vs control/full" in d.reason


def test_tie_within_seed_noise_is_not_promoted():
    cand = s("dapt/full", [0.44, 0.50, 0.47])  # mean 0.47
    ref = s("base/full", [0.43, 0.49, 0.46])  # mean 0.46: +0.01 > margin, but noise is 0.03
    d = decide(cand, ref, None, P)
    assert not d.promote and "not significant" in d.reason


def test_gain_below_margin_is_not_promoted_even_if_consistent():
    d = decide(s("c", [0.502, 0.503, 0.502]), s("r", [0.500, 0.500, 0.500]), None, P)
    assert not d.promote


def test_losing_to_the_control_blocks_promotion_unless_not_required():
    cand, base = s("dapt/full", [0.50, 0.51, 0.505]), s("base/full", [0.40, 0.41, 0.405])
    control = s("control/full", [0.50, 0.515, 0.505])
    assert not decide(cand, base, control, P).promote
    relaxed = GateParams(margin=0.005, alpha=0.05, require_beat_control=False)
    d = decide(cand, base, control, relaxed)
    assert d.promote and "not required" in d.reason


def test_single_seed_cannot_pass_welch_and_candidate_equal_to_reference_never_promotes():
    assert np.isnan(welch_p([0.9], [0.1], 0.0))
    assert not decide(s("a", [0.9]), s("b", [0.1]), None, P).promote
    same = s("base/full", [0.5, 0.6, 0.7])
    d = decide(same, same, None, P)
    assert not d.promote and "reference itself" in d.reason


def test_paired_bootstrap_separates_good_from_random_predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    good = [np.where(rng.random(300) < 0.9, y, (y + 1) % 4).tolist() for _ in range(2)]
    bad = [rng.integers(0, 4, 300).tolist() for _ in range(2)]
    assert bootstrap_p(good, bad, y, 0.005, 100) < 0.05
    assert bootstrap_p(bad, good, y, 0.005, 100) > 0.5
    p = GateParams(test="bootstrap", bootstrap_samples=100)
    assert decide(s("c", [0.9], good[:1]), s("r", [0.3], bad[:1]), None, p, y).promote
