"""The label-budget curve: each backbone's macro-F1 against train labels per class, mean and
spread over seeds, from the ``<candidate>/<strategy>-<n>pc`` runs and the strategy's own
full-data run (the curve's "all" point). Pure apart from the plot. Reported, never used to
choose: the paired comparison at each budget and the recommendation are register's
(components/evaluate/recommend.py), with the rest of the test-set decisions."""

from __future__ import annotations

from pathlib import Path

from components.compare.core import Combo


def curve(all_combos: list[Combo], strategy: str) -> dict[str, list[dict]]:
    """candidate -> its points, fewest labels first (``labels_per_class``: n, or "all")."""
    out: dict[str, list[dict]] = {}
    points = [c for c in all_combos if c.strategy == strategy]
    if not any(c.budget is not None for c in points):
        return {}
    order = sorted(points, key=lambda c: (c.budget is None, c.budget or 0))
    for c in order:
        row: dict = {"labels_per_class": "all" if c.budget is None else c.budget}
        for metric in ("macro_f1", "dev_macro_f1"):
            m, s = c.stat(metric)
            row[f"{metric}_mean"], row[f"{metric}_std"] = round(m, 4), round(s, 4)
        out.setdefault(c.candidate, []).append(row | {"seeds": len(c.runs)})
    return out


def markdown(points: dict[str, list[dict]], strategy: str, plot: str) -> str:
    if not points:
        return ""
    cols = list(dict.fromkeys(p["labels_per_class"] for ps in points.values() for p in ps))
    lines = [
        f"## Label-budget curve: test macro-F1 (%) of `{strategy}` by labels per class, "
        "mean ± std over seeds",
        "",
        "| candidate | " + " | ".join(f"{c}/class" if c != "all" else "all" for c in cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for cand, ps in points.items():
        at = {p["labels_per_class"]: p for p in ps}
        cells = [
            f"{at[c]['macro_f1_mean'] * 100:.1f} ± {at[c]['macro_f1_std'] * 100:.1f}"
            if c in at
            else "–"
            for c in cols
        ]
        lines.append(f"| {cand} | " + " | ".join(cells) + " |")
    lines += ["", f"![label-budget curve]({plot})", ""]
    lines.append(
        "Subsets are stratified, nested (the smaller inside the larger) and the same for every "
        "backbone at a seed; the paired comparison at each budget and the recommendation are in "
        "`reports/gate.json` (stage `register`)."
    )
    return "\n".join(lines)


def plot(points: dict[str, list[dict]], all_x: float, path: Path, strategy: str) -> None:
    """One line per backbone with its spread over seeds (error bars: ± std); "all" is drawn at
    the train set's mean labels per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for cand, ps in points.items():
        xs = [all_x if p["labels_per_class"] == "all" else p["labels_per_class"] for p in ps]
        ys = [p["macro_f1_mean"] * 100 for p in ps]
        err = [p["macro_f1_std"] * 100 for p in ps]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=cand)
    ax.set_xscale("log")
    ax.set_xlabel("train labels per class (last point: all)")
    ax.set_ylabel("test macro-F1 (%)")
    ax.set_title(f"label-budget curve ({strategy}), mean ± std over seeds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
