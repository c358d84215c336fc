"""Typed parameters of evaluation and gating (params.yaml section ``evaluate``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from components.config import param
from components.finetune.params import STRATEGIES


@dataclass
class PetEvalParams:
    backbones: list[str] = param(["base", "dapt"], help="candidates scored with pet")
    shots: list[int] = param([0, 32], help="examples per class; 0 = zero-shot")


@dataclass
class GateParams:
    registered_model: str = param("medical-classifier", help="MLflow registered model name")
    margin: float = param(0.005, ge=0.0, le=1.0, help="macro-F1 the candidate must win by")
    alpha: float = param(0.05, gt=0.0, lt=1.0, help="significance level of the seed-level test")
    test: Literal["welch", "bootstrap"] = param(
        "welch", help="welch: t-test over seed scores; bootstrap: paired over test examples"
    )
    bootstrap_samples: int = param(1000, ge=100)
    require_beat_control: bool = param(
        True, help="also require a win over the compute-matched control (when present)"
    )


@dataclass
class EvaluateParams:
    candidates: dict[str, str] = param(
        {
            "base": "models/base-zh-tiny",
            "control": "models/control",
            "dapt": "models/dapt",
            "tapt": "models/tapt-only",
            "dapt_tapt": "models/tapt",
        },
        help="name -> save_pretrained masked-LM folder",
    )
    baseline: str = param("base", help="candidate the first champion must beat")
    control: str = param("control", help="compute-matched control candidate ('' = none)")
    strategies: list[str] = param(["full", "lora"])
    seeds: int = param(3, ge=1, le=50, help="fine-tuning runs per candidate and strategy")
    workers: int = param(
        0, ge=0, help="fine-tuning runs at once, one torch thread each (0 = all cores)"
    )
    skip_missing: bool = param(
        False, help="skip candidates whose folder is missing instead of failing"
    )
    base_model_id: str = param("", help="recorded in lineage; '' = the baseline's folder")
    pet: PetEvalParams = field(default_factory=PetEvalParams)
    gate: GateParams = field(default_factory=GateParams)

    def check(self) -> list[str]:
        bad = [s for s in self.strategies if s not in STRATEGIES or s == "pet"]
        if bad:
            return [f"strategies: {bad[0]!r} is not a classifier strategy (pet has its own key)"]
        if self.baseline not in self.candidates:
            return [f"baseline: {self.baseline!r} is not a candidate"]
        if self.control and self.control not in self.candidates:
            return [f"control: {self.control!r} is not a candidate"]
        unknown = [b for b in self.pet.backbones if b not in self.candidates]
        if unknown:
            return [f"pet.backbones: {unknown[0]!r} is not a candidate"]
        return []
