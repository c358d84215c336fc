"""Pretraining tokens/s and CPU MFU at 1 and 2 processes, same global batch, one run.

Each configuration is the real ``dapt pretrain`` command (with ``pretrain.distributed`` above 1 it
re-launches itself under torchrun, gloo), on the shipped base model, the same medical text, seed,
global batch and micro-batches, so all three follow the same trajectory:

  1p x 1t    one process, one torch thread          (the baseline)
  1p x 2t    one process, two threads               (the same 2 cores, shared inside one process)
  2p x 1t    two processes of one thread each, DDP  (the same 2 cores, shared over processes)

MFU is against the measured matmul peak of each process (components/pretrain/mfu.py), so 2p x 1t
is measured against 2 x the one-thread peak. Prints tokens/s, MFU, final loss and ratios to the
baseline, then the time of one gloo all-reduce of the model's gradients between 2 processes (what
DDP adds per optimizer step), to tell communication from CPU contention.

    .venv/bin/python benchmarks/pretrain_distributed.py --steps 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared/data")  # benchmarks may read it; the project never does
CONFIGS = [("1p x 1t", 1, 1), ("1p x 2t", 1, 2), ("2p x 1t", 2, 1)]


def params_yaml(args, nproc: int, threads: int) -> str:
    return f"""pretrain:
  dapt:
    seq_len: {args.seq_len}
    global_batch: {args.global_batch}
    micro_batch: {args.micro_batch}
    max_steps: {args.steps}
    precision: {args.precision}
    threads: {threads}
    whole_word: true
    jieba_fallback: false
    eval_fraction: 0.0
    max_docs: {args.max_docs}
    log_every: {args.steps}
    checkpoint_every: 1000000
  distributed:
    nproc_per_node: {nproc}
"""


def run(args, name: str, nproc: int, threads: int, tmp: Path) -> dict:
    params = tmp / f"params-{nproc}-{threads}.yaml"
    params.write_text(params_yaml(args, nproc, threads), encoding="utf-8")
    out = tmp / f"out-{nproc}-{threads}"
    cmd = [sys.executable, "-m", "components.cli", "pretrain", "--params", str(params)]
    cmd += ["--corpus", str(args.corpus), "--model", args.model, "--out", str(out)]
    cmd += ["--lexicon", str(args.lexicon), "--no-validated-check", "--no-mlflow", "--no-resume"]
    env = {"OMP_NUM_THREADS": str(threads), "MLFLOW_DISABLE_TELEMETRY": "true"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    m = json.loads((out / "metrics.json").read_text())
    return {
        "tokens_per_second": m["train_tokens_per_second"],
        "mfu": m.get("mfu"),
        "peak_per_process": m.get("peak_flops_per_process"),
        "final_loss": m["final_loss"],
        "world_size": m["world_size"],
        "precision": m["precision"],
        "train_seconds": m["train_seconds"],
        "wall_seconds": wall,
    }


def allreduce_probe(model: str) -> None:
    """Inside torchrun: median time of an all-reduce of the model's parameter count (fp32)."""
    import torch
    import torch.distributed as dist
    from transformers import AutoConfig, AutoModelForMaskedLM

    dist.init_process_group("gloo")
    torch.set_num_threads(1)
    n = sum(p.numel() for p in AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(model)).parameters())  # fmt: skip
    t = torch.randn(n)
    times = []
    for i in range(23):
        t0 = time.perf_counter()
        dist.all_reduce(t)
        if i >= 3:  # warm-up excluded
            times.append(time.perf_counter() - t0)
    if dist.get_rank() == 0:
        times.sort()
        print(f"gloo all-reduce of {n / 1e6:.2f}M fp32 gradients ({n * 4 / 1e6:.1f} MB), 2 "
              f"processes: median {times[10] * 1e3:.1f} ms, min {times[0] * 1e3:.1f} ms")  # fmt: skip
    dist.destroy_process_group()


def main() -> int:
    if "--allreduce-probe" in sys.argv:
        allreduce_probe(sys.argv[-1])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=SHARED / "medical" / "cmdd_dialogues.jsonl")
    ap.add_argument(
        "--lexicon", type=Path, default=ROOT / "data/samples/lexicons/THUOCL_medical.txt"
    )
    ap.add_argument("--model", default=str(ROOT / "models/base-zh-tiny"))
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--global-batch", type=int, default=32)
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--max-docs", type=int, default=1500)
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    ap.add_argument("--only", nargs="*", default=[c[0] for c in CONFIGS])
    args = ap.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, nproc, threads in CONFIGS:
            if name not in args.only:
                continue
            r = run(args, name, nproc, threads, Path(tmp))
            results[name] = r
            print(
                f"{name}  {r['tokens_per_second']:8.0f} tok/s  MFU {r['mfu']:.3f} "
                f"(peak/process {r['peak_per_process'] / 1e9:.0f} GFLOP/s, {r['precision']})  "
                f"final loss {r['final_loss']:.5f}  train {r['train_seconds']:.1f} s, "
                f"wall {r['wall_seconds']:.1f} s",
                flush=True,
            )
    base = results.get("1p x 1t")
    if base:
        for name, r in results.items():
            if name != "1p x 1t":
                ratio = r["tokens_per_second"] / base["tokens_per_second"]
                print(f"{name} / 1p x 1t: {ratio:.2f}x tokens/s")
    print(json.dumps({k: round(v["tokens_per_second"], 1) for k, v in results.items()}))
    probe = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone"]
    probe += [__file__, "--allreduce-probe", args.model]
    subprocess.run(probe, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
