"""Stochastic weight averaging of the last weights of a run (``pretrain.<recipe>.swa``).

torch.optim.swa_utils.AveragedModel keeps the equal-weight running mean; the steps it averages
are fixed by the params alone (``swa_steps``), so a resumed run averages the same steps as an
uninterrupted one (the average travels in the checkpoint).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from components.pretrain.params import TrainParams


def swa_steps(p: TrainParams) -> set[int]:
    """The optimizer steps after which the weights join the average (empty: SWA off)."""
    return {p.max_steps - i * p.swa.every for i in range(p.swa.count)}


def averager(model: nn.Module, p: TrainParams) -> AveragedModel | None:
    # Parameters only: BERT's buffers (position and token-type ids) never change.
    return AveragedModel(model, use_buffers=False) if p.swa.count else None


def update(avg: AveragedModel | None, model: nn.Module, step: int, steps: set[int]) -> None:
    if avg is not None and step in steps:
        avg.update_parameters(model)


def state(avg: AveragedModel | None) -> dict[str, Any] | None:
    return avg.state_dict() if avg is not None else None


def restore(avg: AveragedModel | None, saved: dict[str, Any] | None) -> None:
    if avg is not None and saved is not None:
        avg.load_state_dict(saved)


def apply(avg: AveragedModel | None, model: nn.Module) -> None:
    """Copy the averaged parameters into ``model`` (its buffers stay as they are)."""
    if avg is None:
        return
    averaged = dict(avg.module.named_parameters())
    with torch.no_grad():
        for name, t in model.named_parameters():
            t.copy_(averaged[name])
