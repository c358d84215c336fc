"""Typed parameters of evaluation and gating (params.yaml section ``evaluate``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.config import param
from components.finetune.params import STRATEGIES

# Candidate name = pretraining stage = folder models/<name>; ``base`` is domain.base_model.
CANDIDATES = ("base", "control", "dapt", "tapt_only", "dapt_tapt", "vocab_only", "adapter_dapt")


@dataclass
class PetEvalParams:
    backbones: list[str] = param(["base", "dapt"], help="candidates scored with pet")
    shots: list[int] = param([0, 32], help="examples per class; 0 = zero-shot")


@dataclass
class GateParams:
    """Promotion needs the lower bound of the paired confidence interval of the gain (over test
    examples and seeds) above ``margin``, against the reference and (if required) the control."""

    margin: float = param(0.005, ge=0.0, le=1.0, help="the interval's lower bound must exceed it")
    confidence: float = param(0.95, gt=0.5, lt=1.0, help="two-sided bootstrap interval")
    bootstrap_samples: int = param(1000, ge=100, help="paired resamples of test rows x seeds")
    require_beat_control: bool = param(
        True, help="also require a win over the compute-matched control (when present)"
    )
    max_general_ppl_increase: float = param(
        0.25, ge=0.0, help="a pretrained candidate whose general perplexity rises more is refused"
    )


@dataclass
class EvaluateParams:
    candidates: list[str] = param(list(CANDIDATES), help=f"subset of {', '.join(CANDIDATES)}")
    baseline: str = param("base", help="candidate the first champion must beat")
    control: str = param("control", help="compute-matched control candidate ('' = none)")
    strategies: list[str] = param(["full", "lora"])
    seeds: int = param(3, ge=1, le=50, help="fine-tuning runs per candidate and strategy")
    extra_strategies: dict[str, list[str]] = param(
        {},
        help="strategy -> the candidates it also runs on: rows in the evaluation table, never "
        "chosen for registration (without a run on every candidate the gate has no baseline or "
        "control of the same strategy to pair with)",
    )
    workers: int = param(
        0, ge=0, help="fine-tuning runs at once, one torch thread each (0 = all cores)"
    )
    label_budgets: list[int] = param(
        [],
        help="labels per class of the label-budget curve (stratified train subsets, nested, the "
        "same for every backbone); the full train set is always its last point; [] = no curve",
    )
    budget_strategy: str = param("full", help="the strategy the label-budget curve runs")
    user_budget: int = param(
        0, ge=0, help="labels per class the user has, for the recommendation (0 = all of them)"
    )
    pet: PetEvalParams = field(default_factory=PetEvalParams)
    gate: GateParams = field(default_factory=GateParams)

    def check(self) -> list[str]:
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown:
            return [f"candidates: {unknown[0]!r} is not one of {', '.join(CANDIDATES)}"]
        bad = [s for s in self.strategies if s not in STRATEGIES or s == "pet"]
        if bad:
            return [f"strategies: {bad[0]!r} is not a classifier strategy (pet has its own key)"]
        if self.baseline not in self.candidates:
            return [f"baseline: {self.baseline!r} is not a candidate"]
        if self.control and self.control not in self.candidates:
            return [f"control: {self.control!r} is not a candidate"]
        for s, cands in self.extra_strategies.items():
            if s not in STRATEGIES or s == "pet":
                return [f"extra_strategies.{s}: not a classifier strategy"]
            if bad := [c for c in cands if c not in self.candidates]:
                return [f"extra_strategies.{s}: {bad[0]!r} is not a candidate"]
        if any(n < 1 for n in self.label_budgets):
            return ["label_budgets: every budget is at least 1 label per class"]
        if self.budget_strategy not in STRATEGIES or self.budget_strategy == "pet":
            return [f"budget_strategy: {self.budget_strategy!r} is not a classifier strategy"]
        if self.user_budget and self.user_budget not in self.label_budgets:
            return [f"user_budget: {self.user_budget} is not one of label_budgets (0 = all)"]
        unknown = [b for b in self.pet.backbones if b not in self.candidates]
        if unknown:
            return [f"pet.backbones: {unknown[0]!r} is not a candidate"]
        return []
