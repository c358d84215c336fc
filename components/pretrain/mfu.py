"""Peak FLOP/s for model FLOPs utilisation (MFU) on every machine.

CUDA: the vendor's dense bf16 tensor-core peak of known devices (a table). CPU: there is no table
that fits every CPU, thread count and library build, so the peak is *measured*: a short
``torch.matmul`` probe in the training dtype with the process's thread count, cached per machine
(``~/.cache/dapt/matmul_peak.json``, keyed by CPU model, threads, dtype and torch version). MFU on
CPU therefore means "share of the best matmul rate this process reaches here", which makes the
distance to the physical limit a number on every machine, not only on a GPU.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

# Dense bf16 tensor-core peak (FLOP/s) by device name.
BF16_PEAK = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "A800": 312e12,
    "L40S": 362e12,
    "L40": 181e12,
    "L4": 121e12,
    "A10G": 70e12,
    "A10": 125e12,
    "RTX 4090": 165e12,
    "RTX 3090": 71e12,
    "V100": 125e12,  # fp16; V100 has no bf16
    "T4": 65e12,  # fp16
}

PROBE_SIZES = (512, 1024)  # measured here: 2048 is no faster (cache-bound), only slower to probe
PROBE_SECONDS = 0.5  # per size; best of the repetitions (shared cores are noisy); cached
TOPUP_SECONDS = 0.1  # re-probe of a cached peak at every run start


def cache_file() -> Path:
    root = os.environ.get("DAPT_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "dapt"
    )
    return Path(root) / "matmul_peak.json"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_key(dtype: torch.dtype) -> str:
    name = str(dtype).replace("torch.", "")
    return f"{cpu_model()}|threads={torch.get_num_threads()}|{name}|torch={torch.__version__}"


def probe_matmul(dtype: torch.dtype, sizes=PROBE_SIZES, seconds: float = PROBE_SECONDS) -> float:
    """Best FLOP/s of square ``torch.matmul`` on the CPU in ``dtype`` (warm-up excluded)."""
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n).to(dtype)
        b = torch.randn(n, n).to(dtype)
        torch.matmul(a, b)  # warm-up: thread pool, packing buffers
        spent, reps = 0.0, 0
        while spent < seconds and reps < 20:
            t0 = time.perf_counter()
            torch.matmul(a, b)
            dt = time.perf_counter() - t0
            spent += dt
            reps += 1
            best = max(best, 2.0 * n**3 / dt)
    return best


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def cpu_peak_flops(dtype: torch.dtype, *, refresh: bool = False) -> float:
    """Measured CPU matmul peak of this process (threads, dtype), from the cache when known.

    On a shared machine a probe can run while other work holds the cores and read low; so a
    cached number is topped up by a short re-probe and only ever raised (the best rate seen is
    the closest to the hardware's), and ``refresh`` measures again from scratch.
    """
    path, key = cache_file(), cpu_key(dtype)
    known = _read_cache(path).get(key)
    if not refresh and isinstance(known, int | float) and known > 0:
        quick = probe_matmul(dtype, sizes=PROBE_SIZES[:1], seconds=TOPUP_SECONDS)
        if quick <= known:
            return float(known)
        peak = quick
    else:
        peak = probe_matmul(dtype)
    cached = _read_cache(path)  # another process may have written meanwhile
    cached[key] = peak
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs a new probe next time
    return peak


def peak_flops(device: torch.device, dtype: torch.dtype | None) -> tuple[float | None, str]:
    """(peak FLOP/s of one process on ``device``, where the number comes from)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak in BF16_PEAK.items():
            if key in name:
                return peak, f"table:{key}"
        return None, f"unknown GPU {name}"
    if device.type == "cpu":
        return cpu_peak_flops(dtype or torch.float32), "measured matmul"
    return None, f"no peak for {device.type}"
