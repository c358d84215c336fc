"""The masked-LM training loop (nanoGPT-style: one readable function, no framework).

Data: packed blocks (``data.pack``), read in a seeded per-epoch order, optionally mixed with a
``replay_fraction`` of general-text blocks. Masking is redrawn every time a block is read
(dynamic). Multi-process: DDP under ``torchrun`` (gloo on CPU, NCCL on CUDA). World-size
invariant (``distributed.py``): micro-batch j of step s has the same blocks, masks and dropout
whichever process runs it, and the loss is divided by the step's global masked-token count, so a
run, or its resumption, at any world size follows the same trajectory.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from components.modeling.precision import autocast, autocast_dtype
from components.pretrain import adapters, checkpoint, swa
from components.pretrain.data import Blocks, mask_batch
from components.pretrain.distributed import batch_plan, dropout_seed, env_world, mask_seed
from components.pretrain.mfu import peak_flops
from components.pretrain.model import SparseMLM, flops_per_token
from components.pretrain.params import TrainParams

EVAL_SEED = 1234
EVAL_BATCH = 32  # fixed, so the held-out masks do not change with the training batch settings


@dataclass
class Corpora:
    train: Blocks
    eval: Blocks | None = None
    replay: Blocks | None = None
    general_eval: Blocks | None = None


@dataclass
class Result:
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)


def lr_lambda(p: TrainParams, total: int) -> Callable[[int], float]:
    warm = int(p.warmup_ratio * total)

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if p.schedule == "constant":
            return 1.0
        frac = min(1.0, (step - warm) / max(1, total - warm))
        decay = 1 - frac if p.schedule == "linear" else 0.5 * (1 + math.cos(math.pi * frac))
        return p.min_lr_ratio + (1 - p.min_lr_ratio) * decay

    return f


def epoch_order(n_main: int, n_replay: int, p: TrainParams, epoch: int) -> np.ndarray:
    """(source, index) rows of one epoch: every main block once plus replay blocks, shuffled."""
    rng = np.random.default_rng([p.seed, epoch])
    rows = [np.stack([np.zeros(n_main, np.int64), rng.permutation(n_main)], 1)]
    if n_replay and p.replay_fraction > 0:
        k = round(n_main * p.replay_fraction / (1 - p.replay_fraction))
        rows.append(np.stack([np.ones(k, np.int64), rng.integers(0, n_replay, k)], 1))
    order = np.concatenate(rows)
    return order[rng.permutation(len(order))]


class BlockStream:
    """Blocks by global position in an endless sequence of epochs (the data position)."""

    def __init__(self, corpora: Corpora, p: TrainParams) -> None:
        self.sources = [corpora.train, corpora.replay]
        self.n_replay = len(corpora.replay) if corpora.replay is not None else 0
        self.p = p
        self._epoch, self._order = -1, np.zeros((0, 2), np.int64)
        self.epoch_len = len(epoch_order(len(corpora.train), self.n_replay, p, 0))

    def take(self, pos: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        rows = []
        for q in range(pos, pos + count):
            epoch, off = divmod(q, self.epoch_len)
            if epoch != self._epoch:
                self._epoch = epoch
                self._order = epoch_order(len(self.sources[0]), self.n_replay, self.p, epoch)
            rows.append(self._order[off])
        ids = np.stack([self.sources[s].ids[i] for s, i in rows])
        starts = np.stack([self.sources[s].starts[i] for s, i in rows])
        return ids, starts


class _Masker:
    def __init__(self, tokenizer, p: TrainParams) -> None:
        self.special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.mask_id, self.vocab = tokenizer.mask_token_id, len(tokenizer)
        self.p = p

    def __call__(self, ids: np.ndarray, starts: np.ndarray, rate: float, gen: torch.Generator):
        t = torch.from_numpy(ids.astype(np.int64))
        s = torch.from_numpy(starts) if self.p.whole_word else torch.ones_like(t, dtype=torch.bool)
        return mask_batch(
            t,
            s,
            torch.isin(t, self.special),
            mask_id=self.mask_id,
            vocab_size=self.vocab,
            rate=rate,
            mask_ratio=self.p.mask_token_ratio,
            random_ratio=self.p.random_token_ratio,
            generator=gen,
        )


@torch.no_grad()
def perplexity(obj: SparseMLM, blocks: Blocks, masker: _Masker, p: TrainParams, device) -> float:
    """exp(mean masked-token cross-entropy) with fixed masks (same draw before and after)."""
    was = obj.training
    obj.eval()
    gen = torch.Generator().manual_seed(EVAL_SEED)
    n = min(len(blocks), p.eval_max_blocks)
    total, count = 0.0, 0
    for i in range(0, n, EVAL_BATCH):
        inputs, labels = masker(
            blocks.ids[i : min(n, i + EVAL_BATCH)],
            blocks.starts[i : min(n, i + EVAL_BATCH)],
            p.mask_rate,
            gen,
        )
        k = int((labels != -100).sum())
        total += float(obj(inputs.to(device), labels.to(device))) * k
        count += k
    obj.train(was)
    return math.exp(total / max(1, count))


def _dist() -> tuple[int, int, int]:
    rank, local_rank, world = env_world()
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return rank, local_rank, world


def _all_sum(values: list[float], world: int) -> list[float]:
    if world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    if torch.distributed.get_backend() == "nccl":
        t = t.cuda()
    torch.distributed.all_reduce(t)
    return t.cpu().tolist()


def train(
    model,
    tokenizer,
    corpora: Corpora,
    p: TrainParams,
    ckpt_dir: Path,
    *,
    fingerprint: str = "",
    fingerprint_parts: dict[str, str] | None = None,
    resume: bool = True,
    log_fn: Callable[[dict[str, float], int], None] | None = None,
    fault_after: int | None = None,
    config_key: str = "pretrain",
) -> Result:
    """Train ``model`` in place for ``p.max_steps`` optimizer steps; returns metrics + history.

    ``config_key`` (``pretrain.dapt``) names the params in a batch that the world size cannot share.
    ``fingerprint`` keys resumption: checkpoints written under another one (another base model,
    tokenizer, data or params; ``fingerprint_parts`` says which) are not resumed.
    """
    if p.threads:
        torch.set_num_threads(p.threads)
    rank, local_rank, world = _dist()
    plan = batch_plan(p.global_batch, p.micro_batch, world, config_key)
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(p.seed)
    lora = adapters.wrap(model, p)  # adapter DAPT: only the adapters train
    model.to(device).train()
    obj = SparseMLM(model)
    masker = _Masker(tokenizer, p)
    amp = autocast_dtype(p.precision, device)
    named = [(n, t) for n, t in obj.named_parameters() if t.requires_grad]
    decay = [t for n, t in named if t.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [t for n, t in named if not (t.ndim >= 2 and "LayerNorm" not in n)]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": p.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=p.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
        fused=device.type == "cuda",
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(p, p.max_steps))
    ema = (
        {k: v.detach().clone().float() for k, v in model.state_dict().items()}
        if p.ema_decay
        else None
    )
    averaged, swa_at = swa.averager(model, p), swa.swa_steps(p)
    stream = BlockStream(corpora, p)

    state = checkpoint.load(ckpt_dir) if resume else None
    if state is not None and state.get("fingerprint") != fingerprint:
        if rank == 0:
            was = state.get("fingerprint_parts") or {}
            changed = [k for k, v in (fingerprint_parts or {}).items() if was.get(k) != v]
            print(
                f"[pretrain] not resuming from {ckpt_dir} (step {state.get('step')}): it was "
                f"trained on a different {', '.join(changed) or 'setup'}; starting fresh",
                file=sys.stderr,
            )
        state = None
    if state is not None:
        # Everything here is the same on every process, whatever world size wrote it; the RNG
        # state is not needed (each micro-batch reseeds from its global position).
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        ema = state.get("ema")
        swa.restore(averaged, state.get("swa"))
        step, history, before = state["step"], state["history"], state["before"]
        tokens, train_seconds = state["tokens"], state["train_seconds"]
        if rank == 0:
            was = state.get("world_size", "?")
            print(f"[pretrain] resumed from {ckpt_dir} at step {step} (written by {was} -> now "
                  f"{world} process(es))")  # fmt: skip
    else:
        before = {}
        if rank == 0:
            if corpora.eval is not None and len(corpora.eval):
                before["eval_perplexity"] = perplexity(obj, corpora.eval, masker, p, device)
            if corpora.general_eval is not None and len(corpora.general_eval):
                before["general_eval_perplexity"] = perplexity(
                    obj, corpora.general_eval, masker, p, device
                )
        step, history, tokens, train_seconds = 0, [], 0, 0.0

    runner = obj
    if world > 1:
        runner = torch.nn.parallel.DistributedDataParallel(obj)
    if p.compile:
        runner = torch.compile(runner)
    fpt = flops_per_token(model.config, p.seq_len, p.mask_rate)
    # One process probes (a CPU probe is timed, so not while the others compete for the cores);
    # the others then read its cached number.
    peak, peak_source = peak_flops(device, amp) if rank == 0 else (None, "")
    if world > 1:
        torch.distributed.barrier()
        if rank != 0:
            peak, peak_source = peak_flops(device, amp)
    bar = tqdm(
        total=p.max_steps,
        initial=step,
        desc="pretrain",
        unit="step",
        disable=rank != 0,
        mininterval=5,
    )
    window_tokens, window_start, window_loss, window_n = 0, time.perf_counter(), 0.0, 0
    while step < p.max_steps:
        t0 = time.perf_counter()
        # This process's micro-batches, drawn first: the loss needs the global masked count.
        micro = []
        for j in plan.micro_indices(rank):
            ids, starts = stream.take(
                step * plan.global_batch + j * plan.micro_batch, p.micro_batch
            )
            gen = torch.Generator().manual_seed(mask_seed(p.seed, step, plan.n_micro, j))
            micro.append((j, *masker(ids, starts, p.mask_rate, gen)))
        local = sum(int((labels != -100).sum()) for _, _, labels in micro)
        (n_masked,) = _all_sum([float(local)], world)
        step_loss = 0.0
        for i, (j, inputs, labels) in enumerate(micro):
            torch.manual_seed(dropout_seed(p.seed, step, j))  # CPU and CUDA generators
            sync = i == len(micro) - 1 or world == 1
            ctx = contextlib.nullcontext() if sync else runner.no_sync()
            with ctx, autocast(device, amp):
                loss_sum = runner(
                    inputs.to(device, non_blocking=True),
                    labels.to(device, non_blocking=True),
                    reduction="sum",
                )
            # DDP averages gradients over processes: x world makes the result the sum over the
            # whole global batch divided by its masked-token count, as on one process.
            (loss_sum * (world / n_masked)).backward()
            step_loss += float(loss_sum.detach()) / n_masked
        if p.clip_grad:
            torch.nn.utils.clip_grad_norm_(obj.parameters(), p.clip_grad)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if ema is not None:
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    if v.dtype.is_floating_point:
                        ema[k].mul_(p.ema_decay).add_(v.detach().float(), alpha=1 - p.ema_decay)
        step += 1
        swa.update(averaged, model, step, swa_at)
        dt = time.perf_counter() - t0
        train_seconds += dt
        n_tok = plan.global_batch * p.seq_len  # packed blocks: every input token is real
        tokens += n_tok
        window_tokens += n_tok
        window_loss += step_loss  # this process's share of the step's mean loss
        window_n += 1
        bar.update(1)
        if step % p.log_every == 0 or step == p.max_steps:
            (window_loss,) = _all_sum([window_loss], world)  # every process reaches this step
            elapsed = time.perf_counter() - window_start
            row = {
                "step": step,
                "loss": window_loss / window_n,
                "lr": sched.get_last_lr()[0],
                "tokens_per_second": window_tokens / elapsed,
                "padding_ratio": 0.0,
            }
            if peak:
                row["mfu"] = row["tokens_per_second"] * fpt / (peak * world)
            if rank == 0:
                history.append(row)
                bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_second']:.0f}")
                if log_fn:
                    log_fn({k: v for k, v in row.items() if k != "step"}, step)
            window_tokens, window_start, window_loss, window_n = 0, time.perf_counter(), 0.0, 0
        if rank == 0 and (step % p.checkpoint_every == 0 or step == p.max_steps):
            checkpoint.save(
                ckpt_dir,
                step,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "ema": ema,
                    "swa": swa.state(averaged),
                    "step": step,
                    "data_position": step * plan.global_batch,
                    "world_size": world,
                    "history": history,
                    "before": before,
                    "tokens": tokens,
                    "train_seconds": train_seconds,
                    "fingerprint": fingerprint,
                    "fingerprint_parts": dict(fingerprint_parts or {}),
                },
                keep=p.keep_checkpoints,
            )
            window_start = time.perf_counter()  # checkpoint time is not training throughput
            if fault_after is not None and step >= fault_after:
                os.kill(os.getpid(), 9)  # test hook: a hard kill right after a checkpoint
        if world > 1 and step % p.checkpoint_every == 0:
            torch.distributed.barrier()
    bar.close()

    if ema is not None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in ema.items()})
    swa.apply(averaged, model)
    trainable = adapters.trainable_share(model)
    adapters.merge(lora)  # after averaging: the merged weights are what gets evaluated and saved
    metrics: dict[str, Any] = {
        "steps": step,
        "train_tokens": tokens,
        "train_seconds": round(train_seconds, 3),
        "train_tokens_per_second": tokens / max(train_seconds, 1e-9),
        "padding_ratio": 0.0,
        "world_size": world,
        "global_batch": plan.global_batch,
        "micro_batch": plan.micro_batch,
        "grad_accum": plan.accum,
        "precision": str(amp).replace("torch.", "") if amp else "fp32",
        "final_loss": history[-1]["loss"] if history else None,
        "flops_per_token": fpt,
        "trainable_share": trainable,
    }
    if peak:
        metrics["peak_flops_per_process"] = peak
        metrics["peak_flops_source"] = peak_source
        metrics["mfu"] = metrics["train_tokens_per_second"] * fpt / (peak * world)
    if rank == 0:
        for key, blocks in (
            ("eval_perplexity", corpora.eval),
            ("general_eval_perplexity", corpora.general_eval),
        ):
            if blocks is not None and len(blocks):
                metrics[key] = perplexity(obj, blocks, masker, p, device)
                if key in before:
                    metrics[f"{key}_before"] = before[key]
                    metrics[f"{key}_change"] = metrics[key] / before[key] - 1
    if world > 1:
        torch.distributed.barrier()
    return Result(metrics, history)
