"""Run candidates x strategies x seeds, aggregate mean ± std, write the comparison outputs."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from components.evaluate.params import EvaluateParams
from components.finetune.core import RunResult, finetune
from components.finetune.data import Split
from components.finetune.params import FinetuneParams


@dataclass
class Combo:
    candidate: str
    strategy: str
    shots: int | None = None
    runs: list[RunResult] = field(default_factory=list)

    @property
    def key(self) -> str:
        if self.strategy == "pet":
            return f"{self.candidate}/pet-{self.shots}shot"
        return f"{self.candidate}/{self.strategy}"

    def stat(self, metric: str) -> tuple[float, float]:
        v = np.array([getattr(r, metric) for r in self.runs])
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

    @property
    def best_run(self) -> RunResult:
        """The seed kept as the deployable model: chosen on dev, never on test."""
        return max(self.runs, key=lambda r: (r.dev_macro_f1, -r.seed))


def pick_best(combos: list[Combo], control: str = "") -> Combo | None:
    """The classifier combination to register: the highest mean macro-F1. The compute-matched
    control is never one: it is there to tell a domain gain from extra training, and a control
    that won would reach the gate with nothing to be compared against."""
    eligible = [c for c in combos if c.strategy != "pet" and c.candidate != control]
    return max(eligible, key=lambda c: c.stat("macro_f1")[0], default=None)


def _job(args: tuple) -> RunResult:
    backbone, strategy, labels, train, dev, test, ft, seed, out, shots = args
    return finetune(backbone, strategy, labels, train, dev, test, ft, seed, out, shots)


def _results(jobs: list[tuple], workers: int):
    """Yield (index, result) as runs finish. Tiny models scale poorly over threads, so runs go
    to ``workers`` spawned processes with one torch thread each (spawn: forking a process whose
    torch already started OpenMP threads can hang)."""
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            yield i, _job(job)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_job, job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def run_matrix(
    ev: EvaluateParams,
    ft: FinetuneParams,
    labels: list[str],
    train: Split,
    dev: Split,
    test: Split,
    workdir: Path,
    on_run: Callable[[Combo, RunResult], None] = lambda c, r: None,
    skip: frozenset[str] = frozenset(),
) -> tuple[list[Combo], Combo | None]:
    """Every combination; the best classifier combination's dev-best seed is saved to
    ``workdir/best`` (the other runs' checkpoints are deleted)."""
    runs_dir, best_dir = workdir / "runs", workdir / "best"
    plan = [(c, s, None) for c in ev.candidates if c not in skip for s in ev.strategies]
    plan += [
        (c, "pet", k) for c in ev.pet.backbones if c not in skip for k in ev.pet.shots
    ]  # fmt: skip
    combos = [Combo(cand, strategy, shots) for cand, strategy, shots in plan]
    workers = ev.workers or os.cpu_count() or 1
    run_ft = dataclasses.replace(ft, threads=1) if workers > 1 else ft
    jobs, owner = [], []

    def checkpoint(c: int, seed: int) -> Path:
        return runs_dir / f"{c}-{seed}"

    for c, combo in enumerate(combos):
        # zero-shot PET has no randomness: one run is the whole distribution
        n_seeds = 1 if (combo.strategy == "pet" and combo.shots == 0) else ev.seeds
        for seed in range(n_seeds):
            out = None if combo.strategy == "pet" else checkpoint(c, seed)
            jobs.append((ev.candidates[combo.candidate], combo.strategy, labels, train, dev,
                         test, run_ft, seed, out, combo.shots))  # fmt: skip
            owner.append(combo)
    print(f"[evaluate] {len(jobs)} fine-tuning runs on {min(workers, len(jobs))} process(es)")
    for i, result in _results(jobs, workers):
        combo = owner[i]
        combo.runs.append(result)
        on_run(combo, result)
        print(
            f"[evaluate] {combo.key} seed {result.seed}: macro-F1 {result.macro_f1:.4f} "
            f"acc {result.accuracy:.4f} ({result.seconds:.0f}s, best step {result.best_step})",
            flush=True,
        )
    for combo in combos:
        combo.runs.sort(key=lambda r: r.seed)
    best = pick_best(combos, ev.control)
    if best is not None:
        shutil.rmtree(best_dir, ignore_errors=True)
        shutil.move(str(checkpoint(combos.index(best), best.best_run.seed)), best_dir)
    shutil.rmtree(runs_dir, ignore_errors=True)
    return combos, best


def _cell(c: Combo | None, metric: str) -> str:
    if c is None:
        return "–"
    m, s = c.stat(metric)
    return f"{m * 100:.1f} ± {s * 100:.1f}"


def markdown_table(combos: list[Combo], metric: str) -> str:
    classifiers = [c for c in combos if c.strategy != "pet"]
    cands = list(dict.fromkeys(c.candidate for c in classifiers))
    strategies = list(dict.fromkeys(c.strategy for c in classifiers))
    by = {(c.candidate, c.strategy): c for c in classifiers}
    lines = ["| candidate | " + " | ".join(strategies) + " |", "|---" * (len(strategies) + 1) + "|"]
    for cand in cands:
        lines.append(f"| {cand} | " + " | ".join(_cell(by.get((cand, s)), metric) for s in strategies) + " |")  # fmt: skip
    return "\n".join(lines)


def pet_table(combos: list[Combo]) -> str:
    pets = [c for c in combos if c.strategy == "pet"]
    if not pets:
        return ""
    shots = sorted({c.shots for c in pets})
    by = {(c.candidate, c.shots): c for c in pets}
    lines = ["| backbone | " + " | ".join("zero-shot" if k == 0 else f"{k}-shot" for k in shots) + " |"]  # fmt: skip
    lines.append("|---" * (len(shots) + 1) + "|")
    for cand in dict.fromkeys(c.candidate for c in pets):
        lines.append(f"| {cand} | " + " | ".join(_cell(by.get((cand, k)), "macro_f1") for k in shots) + " |")  # fmt: skip
    return "\n".join(lines)


def metrics_dict(combos: list[Combo], best: Combo | None) -> dict:
    out: dict = {}
    for c in combos:
        f1, f1s = c.stat("macro_f1")
        acc, accs = c.stat("accuracy")
        out[c.key] = {
            "macro_f1_mean": round(f1, 4),
            "macro_f1_std": round(f1s, 4),
            "accuracy_mean": round(acc, 4),
            "accuracy_std": round(accs, 4),
            "seeds": len(c.runs),
        }
    if best is not None:
        out["best"] = {"combination": best.key, "macro_f1_mean": out[best.key]["macro_f1_mean"]}
    return out


def per_class(test: Split, pred: list[int], labels: list[str]) -> dict:
    from sklearn.metrics import classification_report

    return classification_report(
        test.labels,
        np.asarray(pred),
        labels=list(range(len(labels))),
        target_names=labels,
        output_dict=True,
        zero_division=0,
    )


def confusion_plot(test: Split, pred: list[int], labels: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(test.labels, np.asarray(pred), labels=list(range(len(labels))))
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


def report_markdown(
    combos: list[Combo], best: Combo | None, decision_text: str, per_class_report: dict, meta: dict
) -> str:
    rows = [
        "# Evaluation",
        "",
        f"Test set: `{meta['test']}` ({meta['test_rows']} rows, md5 `{meta['test_md5']}`); "
        f"train rows used: {meta['train_rows']}; seeds: {meta['seeds']}; profile: {meta['profile']}.",
        "",
        "## Test macro-F1 (%), mean ± std over seeds",
        "",
        markdown_table(combos, "macro_f1"),
        "",
        "## Test accuracy (%), mean ± std over seeds",
        "",
        markdown_table(combos, "accuracy"),
    ]
    pet = pet_table(combos)
    if pet:
        rows += ["", "## PET (pattern-verbalizer) test macro-F1 (%)", "", pet]
    if best is not None:
        rows += [
            "",
            f"## Best: `{best.key}` (seed {best.best_run.seed} kept, chosen on dev)",
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
    rows += ["", "## Gate", "", decision_text or "(not run)", ""]
    return "\n".join(rows)
