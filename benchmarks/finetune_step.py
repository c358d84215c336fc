"""Fine-tuning step time: our loop (fused AdamW) vs the same loop with torch's default AdamW.

Same backbone, same cMedTC batches (length-grouped, 32 rows), same seed, one torch thread,
``--steps`` optimizer steps each, measured after ``--warmup`` steps. torch's default AdamW on CPU
is the per-tensor loop (``foreach`` is CUDA-only), which is what transformers' Trainer gets
unless ``optim="adamw_torch_fused"``. Also reports forward / backward / optimizer milliseconds.

    .venv/bin/python benchmarks/finetune_step.py --backbone models/base-zh-tiny --steps 150

Needs the ingested task (``make run`` or ``dvc repro ingest``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_task(backbone: str):
    """The demo params, the tokenizer, and the encoded cMedTC training rows with their labels."""
    import torch

    from components.config import load_section
    from components.data.labels import read_label_file
    from components.finetune.core import encode, quiet_transformers
    from components.finetune.data import read_split
    from components.modeling.backbone import load_tokenizer

    quiet_transformers()
    p = load_section("finetune", str(ROOT / "params.yaml"))
    task = ROOT / "data/ingested/task"
    labels = read_label_file(task / "labels.txt")
    train = read_split(task / "train.jsonl", labels)
    tok = load_tokenizer(backbone)
    return p, tok, labels, encode(tok, train.texts, p.max_len), torch.as_tensor(train.labels)


def measure(backbone: str, task, fused: bool, steps: int, warmup: int) -> dict:
    import torch

    from components.finetune.core import batches, build_classifier, collate

    p, tok, labels, ids, y = task
    torch.manual_seed(0)
    model = build_classifier(backbone, "full", labels, p)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)
    chunks = batches(len(ids), 32, torch.Generator().manual_seed(0), [len(x) for x in ids])
    t = {"fwd": 0.0, "bwd": 0.0, "opt": 0.0}
    tokens = 0
    for i, chunk in enumerate(chunks):
        if i == warmup + steps:
            break
        batch = collate([ids[j] for j in chunk], tok.pad_token_id)
        a = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(**batch).logits, y[chunk])
        b = time.perf_counter()
        loss.backward()
        c = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        d = time.perf_counter()
        if i >= warmup:
            t["fwd"], t["bwd"], t["opt"] = t["fwd"] + b - a, t["bwd"] + c - b, t["opt"] + d - c
            tokens += int(batch["attention_mask"].sum())
    total = sum(t.values())
    return {"steps_s": steps / total, "tokens_s": tokens / total, **{k: v / steps * 1e3 for k, v in t.items()}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default=str(ROOT / "models/base-zh-tiny"))
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    task = load_task(args.backbone)
    task[0].pooling = args.pooling
    rows = {}
    for name, fused in (("baseline: AdamW (per-tensor loop)", False), ("ours: fused AdamW", True)):
        rows[name] = r = measure(args.backbone, task, fused, args.steps, args.warmup)
        print(f"{name:36s} {r['steps_s']:6.2f} steps/s {r['tokens_s']:8.0f} tok/s "
              f"fwd {r['fwd']:5.1f} bwd {r['bwd']:5.1f} opt {r['opt']:5.1f} ms")  # fmt: skip
    base, ours = rows.values()
    print(f"ratio (ours / baseline): steps/s {ours['steps_s'] / base['steps_s']:.2f}x, "
          f"optimizer time {ours['opt'] / base['opt']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
