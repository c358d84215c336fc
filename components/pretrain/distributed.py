"""World-size-invariant batching and the torchrun launch of ``dapt pretrain``.

A step's global batch of ``global_batch`` blocks is cut into ``global_batch / micro_batch``
micro-batches with global indices j = 0, 1, ...; process r of ``world`` runs j = r, r + world, ...
Everything random about micro-batch j (its blocks, masks and dropout) is a function of
(seed, step, j) alone, and the loss is normalised by the step's global masked-token count, so 1, 2
or N processes compute the same gradient up to floating-point summation order, and a checkpoint
resumes at any world size.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from components.errors import ConfigError

# Environment that torchrun (torch.distributed.run) gives each worker it starts.
LAUNCHER_ENV = ("LOCAL_RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class BatchPlan:
    global_batch: int
    micro_batch: int
    world: int

    @property
    def n_micro(self) -> int:
        """Micro-batches per optimizer step, all processes together."""
        return self.global_batch // self.micro_batch

    @property
    def accum(self) -> int:
        """Micro-batches each process runs per optimizer step (its gradient accumulation)."""
        return self.n_micro // self.world

    def micro_indices(self, rank: int) -> range:
        return range(rank, self.n_micro, self.world)


def batch_plan(global_batch: int, micro_batch: int, world: int, key: str = "pretrain") -> BatchPlan:
    """The plan, or a ConfigError naming ``key`` when the batch cannot be shared evenly."""
    if global_batch % micro_batch:
        raise ConfigError(
            f"{key}.global_batch: {global_batch} is not a multiple of micro_batch {micro_batch}"
        )
    n_micro = global_batch // micro_batch
    if n_micro % world:
        fits = [m for m in range(micro_batch, 0, -1) if global_batch % (m * world) == 0]
        hint = f"e.g. micro_batch: {fits[0]}" if fits else f"a global_batch multiple of {world}"
        raise ConfigError(
            f"{key}.micro_batch: {global_batch} blocks in micro-batches of {micro_batch} are "
            f"{n_micro} micro-batch(es), which {world} processes cannot share evenly; choose a "
            f"micro_batch that divides global_batch / {world} ({hint}). Changing micro_batch "
            "changes the masks and dropout, so keep it fixed across world sizes."
        )
    return BatchPlan(global_batch, micro_batch, world)


def mask_seed(seed: int, step: int, n_micro: int, j: int) -> int:
    """Seed of micro-batch j's masks (for 1 process the same formula as before world-size
    invariance, so single-process masks did not change)."""
    return int(seed) * 1_000_003 + step * n_micro + j


def dropout_seed(seed: int, step: int, j: int) -> int:
    """Seed of the global RNG (dropout) before micro-batch j; mixed so it is not the mask seed."""
    return int(np.random.SeedSequence([int(seed), step, j, 1]).generate_state(1, np.uint64)[0])


def under_launcher() -> bool:
    return all(k in os.environ for k in LAUNCHER_ENV)


def env_world() -> tuple[int, int, int]:
    """(rank, local_rank, world) from the launcher's environment; (0, 0, 1) without one."""
    return (
        int(os.environ.get("RANK", "0")),
        int(os.environ.get("LOCAL_RANK", "0")),
        int(os.environ.get("WORLD_SIZE", "1")),
    )


def launch_command(
    nproc_per_node: int, nnodes: int, module: str, argv: list[str], key: str = "pretrain"
) -> list[str]:
    """``python -m torch.distributed.run ... -m module argv`` for this node.

    One node: ``--standalone`` (a local rendezvous on a free port). Several nodes: the rendezvous
    comes from torchrun's ``PET_*`` environment, which a Kubeflow TrainJob on the
    ``torch-distributed`` runtime sets (PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR, ...).
    """
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc_per_node)]
    if nnodes == 1:
        cmd += ["--standalone"]
    else:
        env_nodes = os.environ.get("PET_NNODES")
        if env_nodes is not None and env_nodes != str(nnodes):
            raise ConfigError(
                f"{key}.distributed.nnodes: {nnodes}, but this job runs {env_nodes} nodes "
                "(PET_NNODES); make the TrainJob's numNodes and the params agree"
            )
        if not (os.environ.get("PET_MASTER_ADDR") or os.environ.get("PET_RDZV_ENDPOINT")):
            raise ConfigError(
                f"{key}.distributed.nnodes: {nnodes} nodes need a rendezvous: run the stage as a "
                "Kubeflow TrainJob (components/orchestration/trainjob.py) or set PET_MASTER_ADDR, "
                "PET_MASTER_PORT and PET_NODE_RANK on every node"
            )
        cmd += ["--nnodes", str(nnodes)]
    return [*cmd, "-m", module, *argv]
