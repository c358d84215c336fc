"""Mixed precision shared by the pretraining and fine-tuning loops.

``auto`` turns bf16 autocast on where it pays: CUDA with bf16 support, and CPUs with AVX512-BF16 or
AMX (measured on this project's CPU: about 1.4x for masked-LM pretraining, docs/benchmarks.md).
Weights and optimizer state stay fp32; only matmuls run in bf16.
"""

from __future__ import annotations

import contextlib

import torch


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    cpu_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    cpu_amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return torch.bfloat16 if (cpu_bf16 or cpu_amx) else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
