"""Aggregate the fine-tuning runs, choose the combination on dev, write tables and plots.

Pure apart from the plot: results in, tables and a choice out. Test scores are *reported* for
every combination; nothing here looks at them to decide anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from components.finetune.core import RunResult
from components.finetune.matrix import Unit, best_seed, by_combo


@dataclass
class Combo:
    key: str  # candidate/strategy (PET: candidate/pet-Nshot)
    candidate: str
    strategy: str
    shots: int | None
    runs: list[tuple[Unit, RunResult]] = field(default_factory=list)
    budget: int | None = None  # train labels per class (label-budget curve); None = all

    @property
    def column(self) -> str:
        """The combination's column in the tables: ``full``, ``full-8pc``."""
        return self.key.split("/", 1)[1]

    def stat(self, metric: str) -> tuple[float, float]:
        v = np.array([getattr(r, metric) for _, r in self.runs])
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

    @property
    def kept(self) -> tuple[Unit, RunResult]:
        unit = best_seed(self.runs)
        return next(x for x in self.runs if x[0] == unit)


def combos(results: dict[Unit, RunResult]) -> list[Combo]:
    out = []
    for key, runs in by_combo(results).items():
        u = runs[0][0]
        out.append(Combo(key, u.candidate, u.strategy, u.shots, runs, u.budget))
    return out


def choose(all_combos: list[Combo], control: str = "", extra: tuple[str, ...] = ()) -> Combo | None:
    """The classifier combination to register: the highest mean *dev* macro-F1 over seeds.

    The compute-matched control is never one (it tells a domain gain from extra training; were
    it chosen, the gate would have nothing to compare it with), nor is PET (a scoring method
    reported beside the classifiers), nor an ``extra`` strategy (run on some candidates only:
    the gate would have no baseline or control of its strategy), nor a label-budget point (a
    point of the curve, trained on part of the labels)."""
    eligible = [
        c
        for c in all_combos
        if c.strategy != "pet"
        and c.candidate != control
        and c.strategy not in extra
        and c.budget is None
    ]
    return max(eligible, key=lambda c: (c.stat("dev_macro_f1")[0], c.key), default=None)


def _cell(c: Combo | None, metric: str) -> str:
    if c is None:
        return "–"
    m, s = c.stat(metric)
    return f"{m * 100:.1f} ± {s * 100:.1f}"


def markdown_table(all_combos: list[Combo], metric: str) -> str:
    """Candidates x strategies, then a column per label budget (``full-8pc``: 8 labels per
    class), fewest labels first."""
    classifiers = [c for c in all_combos if c.strategy != "pet"]
    cands = list(dict.fromkeys(c.candidate for c in classifiers))
    full = [c for c in classifiers if c.budget is None]
    budgeted = sorted((c for c in classifiers if c.budget is not None), key=lambda c: c.budget)
    strategies = list(dict.fromkeys(c.column for c in full + budgeted))
    by = {(c.candidate, c.column): c for c in classifiers}
    lines = ["| candidate | " + " | ".join(strategies) + " |", "|---" * (len(strategies) + 1) + "|"]
    for cand in cands:
        lines.append(f"| {cand} | " + " | ".join(_cell(by.get((cand, s)), metric) for s in strategies) + " |")  # fmt: skip
    return "\n".join(lines)


def pet_table(all_combos: list[Combo]) -> str:
    pets = [c for c in all_combos if c.strategy == "pet"]
    if not pets:
        return ""
    shots = sorted({c.shots for c in pets})
    by = {(c.candidate, c.shots): c for c in pets}
    lines = ["| backbone | " + " | ".join("zero-shot" if k == 0 else f"{k}-shot" for k in shots) + " |"]  # fmt: skip
    lines.append("|---" * (len(shots) + 1) + "|")
    for cand in dict.fromkeys(c.candidate for c in pets):
        lines.append(f"| {cand} | " + " | ".join(_cell(by.get((cand, k)), "macro_f1") for k in shots) + " |")  # fmt: skip
    return "\n".join(lines)


def metrics_dict(all_combos: list[Combo], chosen: Combo | None) -> dict:
    out: dict = {}
    for c in all_combos:
        row = {}
        for metric in ("macro_f1", "accuracy", "dev_macro_f1"):
            m, s = c.stat(metric)
            row[f"{metric}_mean"], row[f"{metric}_std"] = round(m, 4), round(s, 4)
        out[c.key] = row | {"seeds": len(c.runs)}
    if chosen is not None:
        out["chosen"] = {
            "combination": chosen.key,
            "dev_macro_f1_mean": out[chosen.key]["dev_macro_f1_mean"],
        }
    return out


def per_class(y: np.ndarray, pred: list[int], labels: list[str]) -> dict:
    from sklearn.metrics import classification_report

    return classification_report(
        y,
        np.asarray(pred),
        labels=list(range(len(labels))),
        target_names=labels,
        output_dict=True,
        zero_division=0,
    )


def confusion_plot(
    y: np.ndarray, pred: list[int], labels: list[str], path: Path, title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y, np.asarray(pred), labels=list(range(len(labels))))
    # Row-normalised so rare classes are as visible as frequent ones.
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(6, len(labels) * 0.22)
    fig, ax = plt.subplots(figsize=(size + 2, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def perplexity_table(ppl: dict[str, dict]) -> str:
    if not ppl:
        return ""
    lines = [
        "| candidate | domain char-ppl | general char-ppl | general vs base |",
        "|---|---|---|---|",
    ]
    base = ppl.get("base", {}).get("general")
    for name, row in ppl.items():
        rise = f"{row['general'] / base - 1:+.1%}" if base and row.get("general") else "–"
        dom = f"{row['domain']:.2f}" if row.get("domain") else "–"
        gen = f"{row['general']:.2f}" if row.get("general") else "–"
        lines.append(f"| {name} | {dom} | {gen} | {rise} |")
    return "\n".join(lines)


def report_markdown(
    all_combos: list[Combo],
    chosen: Combo | None,
    per_class_report: dict,
    meta: dict,
    skipped: dict[str, str],
    ppl: dict[str, dict],
) -> str:
    rows = [
        "# Evaluation",
        "",
        f"Project shape: {meta['shape']}. Test set: `{meta['test']}` ({meta['test_rows']} rows, "
        f"md5 `{meta['test_md5']}`); dev rows: {meta['dev_rows']}; seeds: {meta['seeds']}; "
        f"max_len: {meta['max_len']}; profile: {meta['profile']}.",
    ]
    if skipped:
        rows += ["", "Left out: " + "; ".join(f"`{k}` ({v})" for k, v in skipped.items()) + "."]
    if all_combos:
        rows += [
            "",
            "## Dev macro-F1 (%), mean ± std over seeds: the choice is made here",
            "",
            markdown_table(all_combos, "dev_macro_f1"),
            "",
            "## Test macro-F1 (%), mean ± std over seeds (reported; the gate uses test once)",
            "",
            markdown_table(all_combos, "macro_f1"),
            "",
            "## Test accuracy (%), mean ± std over seeds",
            "",
            markdown_table(all_combos, "accuracy"),
        ]
        pet = pet_table(all_combos)
        if pet:
            rows += ["", "## PET (pattern-verbalizer) test macro-F1 (%)", "", pet]
    if ppl:
        rows += [
            "",
            "## Masked-LM character perplexity on held-out text (same masks for every model)",
            "",
            perplexity_table(ppl),
        ]
    if chosen is not None:
        unit, _ = chosen.kept
        rows += [
            "",
            f"## Chosen on dev: `{chosen.key}` (seed {unit.seed} kept, the best on dev)",
            "",
            f"![confusion matrix]({meta['confusion']})",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for name, r in per_class_report.items():
            if isinstance(r, dict) and name not in ("macro avg", "weighted avg"):
                rows.append(
                    f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | "
                    f"{r['f1-score']:.3f} | {int(r['support'])} |"
                )
    rows += ["", "The promotion decision is in `reports/gate.json` (stage `register`).", ""]
    return "\n".join(rows)
