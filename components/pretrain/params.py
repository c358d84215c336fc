"""Typed parameters of the pretrain stages (params.yaml section ``pretrain``).

One trainer, four recipes: ``general`` (rebuilds the shipped base model), ``dapt`` (domain text),
``tapt`` (the task's own unlabeled text) and ``adapter_dapt`` (DAPT of LoRA adapters only, the
base frozen, merged into a full checkpoint at the end). Each sub-section is a full ``TrainParams``; keys
left out take the defaults below. ``distributed`` says how many processes run each of them.

Batches are named globally: ``global_batch`` blocks per optimizer step, cut into micro-batches of
``micro_batch`` blocks that the processes share. Neither depends on the number of processes, so
the same params give the same run on 1, 2 or N processes (docs/pretrain.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from components.config import param


@dataclass
class AdapterParams:
    """LoRA adapters trained with the base frozen (peft); ``r: 0`` trains every weight."""

    r: int = param(0, ge=0, help="LoRA rank; 0 = no adapters, every weight trains")
    alpha: int = param(16, ge=1)
    dropout: float = param(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = param(["query", "key", "value", "dense"])


@dataclass
class SwaParams:
    """Stochastic weight averaging (torch.optim.swa_utils.AveragedModel): the output is the
    equal-weight mean of the weights after steps max_steps, max_steps - every, ... (count of
    them). ``every: checkpoint_every`` averages the last ``count`` checkpoints."""

    count: int = param(0, ge=0, help="weights averaged; 0 = off")
    every: int = param(1, ge=1, help="steps between averaged weights, ending at the last step")


@dataclass
class TrainParams:
    seq_len: int = param(128, ge=8, le=8192, help="tokens per packed block, [CLS]/[SEP] included")
    global_batch: int = param(32, ge=1, help="blocks per optimizer step, all processes together")
    micro_batch: int = param(
        32, ge=1, help="blocks per forward/backward pass; global_batch must be a multiple"
    )
    max_steps: int = param(1000, ge=1, help="optimizer steps")
    lr: float = param(5e-4, gt=0.0, le=1.0)
    weight_decay: float = param(0.01, ge=0.0)
    warmup_ratio: float = param(0.06, ge=0.0, le=1.0)
    schedule: Literal["linear", "cosine", "constant"] = param("linear")
    min_lr_ratio: float = param(0.0, ge=0.0, le=1.0, help="final lr as a share of lr")
    clip_grad: float = param(1.0, ge=0.0, help="0 = no clipping")
    mask_rate: float = param(0.15, gt=0.0, lt=1.0, help="share of tokens predicted")
    mask_token_ratio: float = param(0.8, ge=0.0, le=1.0, help="of those: replaced by [MASK]")
    random_token_ratio: float = param(0.1, ge=0.0, le=1.0, help="of those: random token")
    whole_word: bool = param(True, help="mask all pieces/characters of a word together")
    jieba_fallback: bool = param(False, help="segment text the lexicon does not cover with jieba")
    replay_fraction: float = param(0.0, ge=0.0, lt=1.0, help="share of general-text blocks")
    ema_decay: float = param(0.0, ge=0.0, lt=1.0, help="0 = off; else EMA weights are the output")
    swa: SwaParams = field(default_factory=SwaParams)
    adapter: AdapterParams = field(default_factory=AdapterParams)
    precision: Literal["auto", "bf16", "fp32"] = param(
        "auto", help="auto = bf16 autocast on CUDA and on CPUs with AVX512-BF16/AMX"
    )
    compile: bool = param(False, help="torch.compile the model")
    threads: int = param(0, ge=0, help="torch CPU threads; 0 = torch's default")
    checkpoint_every: int = param(200, ge=1, help="steps between checkpoints")
    keep_checkpoints: int = param(2, ge=1, help="newest checkpoints kept")
    log_every: int = param(20, ge=1, help="steps between metric logs")
    eval_fraction: float = param(0.02, ge=0.0, lt=1.0, help="held-out share of the corpus")
    eval_max_blocks: int = param(256, ge=1, help="blocks per perplexity evaluation")
    max_docs: int = param(0, ge=0, help="0 = all documents of each corpus")
    seed: int = param(42)

    # Keys of earlier versions: a params.yaml that still has them gets this fix, not "unknown key".
    RENAMED: ClassVar[dict[str, str]] = {
        "batch_size": "replaced by global_batch (blocks per optimizer step over all processes, "
        "the old batch_size x grad_accum x processes) and micro_batch (the old batch_size)",
        "grad_accum": "replaced by global_batch and micro_batch: the accumulation steps per "
        "process are global_batch / micro_batch / processes",
    }

    def check(self) -> list[str]:
        if self.swa.count and self.ema_decay:
            return ["swa: give either swa.count or ema_decay, not both (each is the output)"]
        if self.swa.count and (self.swa.count - 1) * self.swa.every >= self.max_steps:
            return [
                f"swa: {self.swa.count} weights {self.swa.every} step(s) apart need more than "
                f"max_steps {self.max_steps} steps"
            ]
        if self.mask_token_ratio + self.random_token_ratio > 1.0:
            return ["mask_token_ratio: mask_token_ratio + random_token_ratio must be <= 1"]
        if self.global_batch % self.micro_batch:
            return [
                f"global_batch: {self.global_batch} is not a multiple of micro_batch "
                f"{self.micro_batch}"
            ]
        return []


@dataclass
class DistributedParams:
    """Processes per pretraining run; above 1, ``dapt pretrain`` launches itself via torchrun."""

    nproc_per_node: int = param(1, ge=1, le=64, help="processes per node (one per GPU on CUDA)")
    nnodes: int = param(1, ge=1, le=1024, help="nodes (above 1: a TrainJob or PET_* rendezvous)")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes


@dataclass
class PretrainParams:
    general: TrainParams = field(default_factory=TrainParams)
    dapt: TrainParams = field(default_factory=TrainParams)
    tapt: TrainParams = field(default_factory=TrainParams)
    adapter_dapt: TrainParams = field(default_factory=TrainParams)
    distributed: DistributedParams = field(default_factory=DistributedParams)
