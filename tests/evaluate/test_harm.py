"""Harm refusal: a candidate whose domain perplexity does not improve on the base, or whose
general perplexity rises past the bound, is not recommended and never promoted."""

from __future__ import annotations

import pytest

from components.evaluate.gate import Scores, decide, harm_review, refuse_harmful
from components.evaluate.params import GateParams
from tests.evaluate.synthetic import labels, predictions

P = GateParams(margin=0.005, bootstrap_samples=200, max_general_ppl_increase=0.25)
PPL = {
    "base": {"domain": 20.0, "general": 10.0},
    "dapt": {"domain": 15.0, "general": 11.0},  # +10 % general: within the bound
    "tapt_only": {"domain": 16.0, "general": 13.0},  # +30 %: past it
    "vocab_only": {"domain": 21.0, "general": 10.0},  # domain worse than the base
    "control": {"domain": 20.0, "general": 9.0},  # no domain gain at all
}


def test_every_pretrained_candidate_is_reviewed_against_the_base():
    review = harm_review(PPL, P)
    assert set(review) == {"dapt", "tapt_only", "vocab_only", "control"}  # base: the reference
    assert review["dapt"]["recommended"]
    assert review["dapt"]["general_change"] == pytest.approx(0.10)
    assert review["dapt"]["domain_change"] == pytest.approx(-0.25)
    assert not review["tapt_only"]["recommended"]
    assert "+30.0% over the base, past the bound +25%" in review["tapt_only"]["reason"]
    assert not review["vocab_only"]["recommended"]
    assert "does not improve" in review["vocab_only"]["reason"]
    assert not review["control"]["recommended"]  # equal is not an improvement
    # The bound is the param: at +35 % allowed, tapt_only passes.
    loose = GateParams(max_general_ppl_increase=0.35)
    assert harm_review(PPL, loose)["tapt_only"]["recommended"]
    assert harm_review({"dapt": PPL["dapt"]}, P) == {}  # no base row: nothing to judge


def test_a_candidate_over_the_perplexity_bound_is_refused_whatever_its_gain():
    y = labels()

    def scores(name, acc):
        return Scores(name, [0, 1, 2], [predictions(y, acc, s, name) for s in range(3)])

    win = decide(scores("tapt_only/full", 0.8), scores("base/full", 0.6), None, y, P)
    assert win.promote  # a clear paired win on the task...
    review = harm_review(PPL, P)
    refused = refuse_harmful(win, "tapt_only", review)
    assert not refused.promote and refused.alias == "challenger"  # ...refused for forgetting
    assert refused.reason.startswith("challenger: NOT RECOMMENDED (tapt_only: general perplexity")
    assert "macro-F1 gain" in refused.reason  # the gate's own intervals are still said
    kept = refuse_harmful(win, "dapt", review)
    assert kept is win
