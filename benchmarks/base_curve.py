"""Join the loss curves of a base model trained in phases (from scratch, then continued).

Writes ``loss.tsv`` (global step, phase, loss, lr, tokens/s) and ``loss_curve.png`` (raw loss, a
rolling mean, and the learning rate) into the output folder, usually the shipped checkpoint:

    .venv/bin/python benchmarks/base_curve.py --out models/base-zh-tiny \\
        build/base-zh-tiny-v1/loss.tsv build/base-zh-tiny-v2/loss.tsv

``--heldout`` (one TSV per phase from ``benchmarks/heldout_watch.py``) adds the held-out loss
(ln of the held-out perplexity, the same units as the training loss) as points, and writes the
joined table as ``heldout.tsv``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path


def read(path: Path) -> list[dict[str, float]]:
    with open(path, encoding="utf-8") as f:
        return [
            {k: float(v) for k, v in row.items() if v} for row in csv.DictReader(f, delimiter="\t")
        ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("phases", nargs="+", type=Path, help="loss.tsv of each phase, in order")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--window", type=int, default=20, help="rolling-mean width (log points)")
    ap.add_argument("--heldout", nargs="*", type=Path, default=[], help="heldout_watch TSV/phase")
    args = ap.parse_args()
    if args.heldout and len(args.heldout) != len(args.phases):
        ap.error("--heldout needs one file per phase")
    rows, held, offset = [], [], 0
    for phase, path in enumerate(args.phases, 1):
        part = read(path)
        rows += [{**r, "step": r["step"] + offset, "phase": phase} for r in part]
        if args.heldout:
            held += [
                {**r, "step": r["step"] + offset, "phase": phase}
                for r in read(args.heldout[phase - 1])
            ]
        offset += int(part[-1]["step"])
    cols = ["step", "phase", "loss", "lr", "tokens_per_second"]
    lines = ["\t".join(cols)] + ["\t".join(f"{r.get(c, '')}" for c in cols) for r in rows]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "loss.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if held:
        cols = ["step", "phase", "eval_perplexity", "train_perplexity"]
        lines = ["\t".join(cols)] + ["\t".join(f"{r[c]:g}" for c in cols) for r in held]
        (args.out / "heldout.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, loss = [r["step"] for r in rows], [r["loss"] for r in rows]
    smooth, start = [], 0
    for i, r in enumerate(rows):  # trailing mean within the phase: no smearing across restarts
        if i and r["phase"] != rows[i - 1]["phase"]:
            start = i
        window = loss[max(start, i - args.window + 1) : i + 1]
        smooth.append(sum(window) / len(window))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(steps, loss, alpha=0.25, label="loss (per log)")
    ax.plot(steps, smooth, label=f"rolling mean of {args.window}")
    if held:
        import math

        hx = [r["step"] for r in held]
        ax.plot(hx, [math.log(r["eval_perplexity"]) for r in held], "o", ms=3, label="held-out")
        ax.plot(hx, [math.log(r["train_perplexity"]) for r in held], "x", ms=3,
                label="train sample (same masks)")  # fmt: skip
    ax.set_ylim(min(loss) - 0.2, min(loss) + 2.5)
    ax.set_xlabel("optimizer step (all phases)")
    ax.set_ylabel("masked-LM loss")
    ax.grid(alpha=0.3)
    lr_ax = ax.twinx()
    lr_ax.plot(steps, [r["lr"] for r in rows], color="grey", lw=0.8, ls="--", label="lr")
    lr_ax.set_ylabel("learning rate")
    for a, b in itertools.pairwise(rows):
        if b["phase"] != a["phase"]:
            ax.axvline(a["step"], color="k", lw=0.5)  # where a phase (re)starts its schedule
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "loss_curve.png", dpi=100)
    plt.close(fig)
    print(f"{len(rows)} points, {len(args.phases)} phases -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
