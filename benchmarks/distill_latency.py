"""Distilled student vs teacher on CPU: latency (p50/p95 per call, tokenization included),
throughput, parameters and file size, at batch 1 and 32, with the ratios.

The models are built here, no download: the teacher is a classifier of the shipped tokenizer's
vocabulary in a chosen shape (default BERT-base's 12 x 768; ``--shape demo`` is the demo
backbone's 4 x 128), the student is ``components.distill.core.build_student`` of it (alternate
layers, ``distill.layers`` default: half). Random weights: speed and size do not depend on
their values.

    .venv/bin/python benchmarks/distill_latency.py --texts data/ingested/task/test.jsonl

One torch thread by default (a serving worker per core); ``--threads 0`` = torch's default.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = {"base": (12, 768, 12, 3072), "demo": (4, 128, 2, 512)}  # layers, width, heads, ffn


def teacher(tokenizer_dir: Path, shape: str, labels: int):
    import torch
    from transformers import BertConfig

    from components.serving.meanpool import BertMeanPoolForSequenceClassification

    layers, width, heads, ffn = SHAPES[shape]
    base = BertConfig.from_pretrained(tokenizer_dir)
    cfg = BertConfig(
        vocab_size=base.vocab_size, hidden_size=width, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=512,
        num_labels=labels,
    )  # fmt: skip
    torch.manual_seed(0)
    return BertMeanPoolForSequenceClassification(cfg).eval()


def texts_of(path: Path, n: int) -> list[str]:
    rows = [json.loads(x)["text"] for x in path.read_text(encoding="utf-8").splitlines() if x]
    return (rows * (n // max(1, len(rows)) + 1))[:n]


def measure(model, tok, texts, batch: int, max_len: int, seconds: float) -> dict[str, float]:
    import numpy as np

    from components.distill.core import latency

    latency(model, tok, texts[: batch * 2], max_len, batch)  # warm-up
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        times.extend(latency(model, tok, texts, max_len, batch).tolist())
    t = np.asarray(times)
    return {
        "p50_ms": float(np.percentile(t, 50) * 1000),
        "p95_ms": float(np.percentile(t, 95) * 1000),
        "texts_per_s": batch / float(t.mean()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", type=Path, default=ROOT / "models/base-zh-tiny")
    ap.add_argument("--texts", type=Path, default=ROOT / "data/ingested/task/test.jsonl")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="base")
    ap.add_argument("--layers", type=int, default=0, help="student layers; 0 = half")
    ap.add_argument("--labels", type=int, default=44)
    ap.add_argument("--max-len", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=5.0, help="timed per model and batch size")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch
    from transformers import AutoTokenizer

    from components.distill.core import build_student, size, student_layers
    from components.finetune.core import quiet_transformers

    quiet_transformers()
    if args.threads:
        torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    t = teacher(args.tokenizer, args.shape, args.labels)
    layers = student_layers(t.config.num_hidden_layers, args.layers)
    s = build_student(t, layers).eval()
    texts = texts_of(args.texts, 64)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in (("teacher", t), ("student", s)):
            model.save_pretrained(Path(tmp) / name)
            rows[name] = size(model, Path(tmp) / name)
    for batch in (1, 32):
        for name, model in (("teacher", t), ("student", s)):
            rows[name][f"b{batch}"] = measure(model, tok, texts, batch, args.max_len, args.seconds)
    print(f"shape {args.shape}, student layers {layers}, threads {torch.get_num_threads()}")
    print("model    layers  params      MB     b1 p50  b1 p95  b1 /s   b32 p50  b32 p95  b32 /s")
    for name in ("teacher", "student"):
        r = rows[name]
        print(
            f"{name:<8} {r['encoder_layers']:>6}  {r['parameters']:>10,}  {r['file_bytes'] / 1e6:6.1f}"
            f"  {r['b1']['p50_ms']:6.1f}  {r['b1']['p95_ms']:6.1f}  {r['b1']['texts_per_s']:5.0f}"
            f"  {r['b32']['p50_ms']:7.1f}  {r['b32']['p95_ms']:7.1f}  {r['b32']['texts_per_s']:6.0f}"
        )
    tr, st = rows["teacher"], rows["student"]
    print(
        f"student/teacher: params {st['parameters'] / tr['parameters']:.2f}, file "
        f"{st['file_bytes'] / tr['file_bytes']:.2f}, b1 p50 {st['b1']['p50_ms'] / tr['b1']['p50_ms']:.2f}, "
        f"b32 p50 {st['b32']['p50_ms'] / tr['b32']['p50_ms']:.2f}, b32 throughput "
        f"{st['b32']['texts_per_s'] / tr['b32']['texts_per_s']:.2f}x"
    )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
