"""Pretraining outputs for people: the loss curve (TSV + PNG) and a model card."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path


def write_curve(folder: Path, history: list[dict]) -> None:
    cols = ["step", "loss", "lr", "tokens_per_second"]
    lines = ["\t".join(cols)]
    lines += ["\t".join(f"{row.get(c, '')}" for c in cols) for row in history]
    (folder / "loss.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in history], [r["loss"] for r in history])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("masked-LM loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "loss_curve.png", dpi=100)
    plt.close(fig)


def model_card(args, p, model, result) -> str:
    c = model.config
    n_params = sum(t.numel() for t in model.parameters())
    m = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.metrics.items()}
    return f"""# Masked-LM checkpoint ({args.stage})

BERT masked language model: {c.num_hidden_layers} layers, hidden {c.hidden_size},
{c.num_attention_heads} heads, vocabulary {c.vocab_size}, {n_params / 1e6:.2f}M parameters.
Load with `AutoModelForMaskedLM.from_pretrained(<this folder>)` and `AutoTokenizer`.

## Training
- started from: `{args.model}`
- corpus: {", ".join(f"`{x}`" for x in args.corpus)}
- general text (replay / forgetting eval): {", ".join(f"`{x}`" for x in args.general_corpus) or "none"}
- whole-word lexicons: {", ".join(f"`{x}`" for x in args.lexicon) or "none"}
- parameters:

```json
{json.dumps(dataclasses.asdict(p), indent=2)}
```

## Metrics
```json
{json.dumps(m, indent=2, sort_keys=True)}
```

The loss curve is in `loss.tsv` / `loss_curve.png`. Perplexities are masked-LM perplexities
(exp of the mean cross-entropy at {p.mask_rate:.0%} whole-word-masked positions, fixed masks), not
comparable across tokenizers.
"""
