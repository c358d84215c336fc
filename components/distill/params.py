"""Typed parameters of the ``distill`` stage (params.yaml section ``distill``).

The recipe's basics (max_len, pooling, device, precision, threads, the optimizer's warmup,
decay and clipping) are ``finetune``'s: the student reads text exactly as its teacher did.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import param


@dataclass
class DistillParams:
    enabled: bool = param(True, help="false: the stage writes SKIPPED.json and trains nothing")
    layers: int = param(
        0, ge=0, help="student layers, copied from alternate teacher layers; 0 = half the teacher's"
    )
    temperature: float = param(
        2.0, gt=0.0, le=100.0, help="softmax temperature of the soft targets"
    )
    soft_weight: float = param(0.5, ge=0.0, help="weight of the soft-target KL (scaled by T^2)")
    hard_weight: float = param(0.5, ge=0.0, help="weight of the hard-label cross-entropy")
    unlabeled_rows: int = param(
        0, ge=0, help="extra domain texts the teacher labels (soft targets only); 0 = none"
    )
    seeds: int = param(0, ge=0, le=50, help="student runs (seeds 0..n-1); 0 = evaluate.seeds")
    lr: float = param(1e-3, gt=0.0)
    batch_size: int = param(32, ge=1)
    epochs: float = param(3.0, gt=0.0, le=1000.0, help="most passes; early stopping on dev")
    max_steps: int = param(0, ge=0, help="cap on optimizer steps; 0 = none")
    max_train_rows: int = param(0, ge=0, help="stratified labeled subsample; 0 = all rows")
    max_loss: float = param(
        0.02, ge=0.0, le=1.0, help="largest macro-F1 loss vs the teacher that may be registered"
    )
    latency_texts: int = param(32, ge=1, help="test texts timed one at a time for the report")
    threads: int = param(
        1,
        ge=0,
        help="torch CPU threads; 0 = torch's default. One: the demo stage took 273 s with two "
        "threads and 61 s with one on the shared 2-core box (docs/benchmarks.md)",
    )

    def check(self) -> list[str]:
        if self.soft_weight + self.hard_weight <= 0:
            return ["soft_weight + hard_weight: at least one loss must weigh more than 0"]
        return []
