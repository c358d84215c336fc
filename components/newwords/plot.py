"""The stage plot: top words by score, the score distribution, and precision@K when evaluated."""

from __future__ import annotations

from pathlib import Path


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    for f in font_manager.fontManager.ttflist:
        if any(k in f.name for k in ("CJK", "WenQuanYi", "Hei", "Song", "Ming", "Kai")):
            return f.name
    return None


def plot(rows: list[tuple], metrics: dict, path: Path, top: int = 30) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from components.data.writers import atomic_open

    font = _cjk_font()
    fig, axes = plt.subplots(1, 3, figsize=(15, 6))
    head = rows[:top][::-1]
    # Without a CJK font the glyphs would render as boxes: label by rank (words are in the TSV).
    labels = [r[0] if (font or r[0].isascii()) else f"#{len(head) - i}" for i, r in enumerate(head)]
    axes[0].barh(range(len(head)), [r[-1] for r in head], color="tab:blue")
    axes[0].set_yticks(range(len(head)), labels, fontfamily=font or "sans-serif", fontsize=8)
    axes[0].set_title(f"top {len(head)} by score" + ("" if font else " (words: lexicon.tsv)"))
    axes[1].hist([r[-1] for r in rows], bins=50, color="tab:gray")
    axes[1].set_title(f"score distribution ({len(rows)} words)")
    axes[1].set_xlabel("score")
    ev = metrics.get("eval_new_words") or metrics.get("eval")
    if ev:
        ks = sorted(int(k.rsplit("_", 1)[1]) for k in ev if k.startswith("precision_at_"))
        axes[2].plot(ks, [ev[f"precision_at_{k}"] for k in ks], marker="o")
        axes[2].set_xscale("log")
        axes[2].set_ylim(0, 1)
        view = "new words only" if metrics.get("eval_new_words") else "all listed words"
        axes[2].set_title(f"precision@K vs reference lexicon ({view})")
        axes[2].set_xlabel("K")
    else:
        axes[2].axis("off")
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=80)
    plt.close(fig)
