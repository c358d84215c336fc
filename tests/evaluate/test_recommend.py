"""The label-budget recommendation on synthetic per-seed scores: the cheapest significant winner
at each budget, the cheaper one when two are within noise, "keep the base" when none wins, and
the harm refusal of a candidate that loses at every budget."""

from __future__ import annotations

from components.evaluate.gate import Scores
from components.evaluate.params import GateParams
from components.evaluate.recommend import (
    extend_review,
    losing_everywhere,
    paired_point,
    pretrain_costs,
    recommend,
)
from tests.evaluate.synthetic import labels, predictions

P = GateParams(margin=0.005, bootstrap_samples=200, require_beat_control=False)
SEEDS = [0, 1, 2]
Y = labels()
ORDER = ["base", "control", "dapt", "tapt_only", "dapt_tapt"]
COSTS = {"base": 0.0, "control": 1e6, "dapt": 1e6, "tapt_only": 2e5, "dapt_tapt": 1.2e6}


def scores(name: str, accuracy: float) -> Scores:
    return Scores(name, SEEDS, [predictions(Y, accuracy, s, name) for s in SEEDS])


def point(budget, accuracies: dict[str, float], p: GateParams = P):
    return paired_point(
        budget, {n: scores(n, a) for n, a in accuracies.items()}, Y, p, "base", "control"
    )


def test_costs_add_the_checkpoint_a_stage_continues():
    metrics = {"dapt": {"train_tokens": 100}, "dapt_tapt": {"train_tokens": 20},
               "tapt_only": {"skipped": True}, "vocab_only": {"added_tokens": 5}}  # fmt: skip
    costs = pretrain_costs(metrics, ["base", "dapt", "dapt_tapt", "tapt_only", "vocab_only"])
    assert costs == {"base": 0, "dapt": 100, "dapt_tapt": 120, "tapt_only": 0, "vocab_only": 0}


def test_the_cheaper_candidate_is_picked_when_two_are_within_noise():
    # tapt_only and dapt_tapt both clearly beat the base and are within noise of each other.
    pt = point(32, {"base": 0.55, "control": 0.55, "tapt_only": 0.70, "dapt_tapt": 0.705})
    rec = recommend([pt], COSTS, ORDER, {}, P, "base", "control", 32)
    assert rec["recommended"] == "tapt_only"
    both = rec["budgets"][0]["comparisons"]
    assert both["tapt_only"]["base"]["passed"] and both["dapt_tapt"]["base"]["passed"]
    assert rec["headline"].startswith("with 32 labels per class tapt_only gains +")
    assert "over base" in rec["headline"]


def test_the_costlier_candidate_is_picked_when_only_it_truly_wins():
    pt = point(32, {"base": 0.55, "control": 0.55, "tapt_only": 0.55, "dapt_tapt": 0.70})
    rec = recommend([pt], COSTS, ORDER, {}, P, "base", "control", 32)
    assert rec["recommended"] == "dapt_tapt"
    gain = rec["budgets"][0]["comparisons"]["dapt_tapt"]["base"]
    assert gain["low"] > P.margin and gain["passed"]


def test_keep_the_base_when_no_candidate_wins_and_a_headline_per_user_budget():
    small = point(8, {"base": 0.40, "control": 0.40, "dapt": 0.60, "tapt_only": 0.40})
    full = point(None, {"base": 0.80, "control": 0.80, "dapt": 0.80, "tapt_only": 0.80})
    rec = recommend([small, full], COSTS, ORDER, {}, P, "base", "control", 8)
    texts = [b["text"] for b in rec["budgets"]]
    assert texts[0].startswith("with 8 labels per class dapt gains +")
    assert texts[1] == "with all labels no candidate beats the base: keep the base"
    assert rec["headline"] == f"{texts[0]}; {texts[1]}"
    at_all = recommend([small, full], COSTS, ORDER, {}, P, "base", "control", None)
    assert at_all["recommended"] is None and at_all["headline"] == texts[1]


def test_a_win_over_the_base_but_not_the_control_keeps_the_base_when_required():
    strict = GateParams(margin=0.005, bootstrap_samples=200, require_beat_control=True)
    pt = point(None, {"base": 0.55, "control": 0.70, "dapt": 0.70}, strict)
    rec = recommend([pt], COSTS, ORDER, {}, strict, "base", "control", None)
    assert rec["recommended"] is None
    assert rec["headline"] == "with all labels no candidate beats the control: keep the base"


def test_a_candidate_losing_at_every_budget_is_not_recommended_with_the_reason():
    pts = [
        point(8, {"base": 0.60, "dapt": 0.70, "tapt_only": 0.45}),
        point(None, {"base": 0.80, "dapt": 0.85, "tapt_only": 0.65}),
    ]
    losers = losing_everywhere(pts, "base")
    assert list(losers) == ["tapt_only"]
    assert losers["tapt_only"].startswith("loses to the base at every label budget (8 labels")
    earlier = {"tapt_only": {"recommended": False, "reason": "general perplexity +30%"},
               "dapt": {"recommended": True, "reason": "fine"}}  # fmt: skip
    review = extend_review(earlier, losers)
    assert review["tapt_only"]["reason"] == f"general perplexity +30%; {losers['tapt_only']}"
    assert review["dapt"]["recommended"] and earlier["tapt_only"]["reason"].endswith("30%")
    # a refused candidate is never the pick, however cheap
    pt = point(8, {"base": 0.5, "tapt_only": 0.7, "dapt": 0.7})
    rec = recommend([pt], COSTS, ORDER, review, P, "base", "control", 8)
    assert rec["recommended"] == "dapt"
    assert "tapt_only" in rec["not_recommended"]
    # winning at one budget is enough not to be refused
    mixed = [point(8, {"base": 0.6, "dapt": 0.5}), point(None, {"base": 0.6, "dapt": 0.7})]
    assert losing_everywhere(mixed, "base") == {}
